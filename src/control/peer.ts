import type net from 'node:net';
import { loadNative, orWithoutAddon, peerCredentials } from '../native.js';
import { fdOf } from '../sockets.js';

// Who may use the control channel: the user the manager runs as, and root. The socket's file
// mode (0600, in a 0700 directory) keeps everyone else off already; the peer's credentials
// (SO_PEERCRED, taken by the kernel at connect) are checked as well, so that a socket made
// reachable by mistake (a chmod, a shared --runtime-dir) still lets no one else in.

/** False when the native addon is missing: then only the file modes guard the channel. */
export function canCheckPeers(): boolean {
  return orWithoutAddon(() => {
    loadNative();
    return true;
  }, false);
}

/** Why `socket`'s peer may not give commands, or null when it may. */
export function peerRefusal(socket: net.Socket): string | null {
  const fd = fdOf(socket);
  let uid: number | null;
  try {
    uid = orWithoutAddon(() => peerCredentials(fd).uid, null);
  } catch (err) {
    return `cannot tell who is asking (${(err as Error).message}): refused`;
  }
  if (uid === null) return null;
  const own = process.geteuid?.() ?? 0;
  if (uid === own || uid === 0) return null;
  return `permission denied: uid ${uid} may not control this instance (only uid ${own}, which started it, and root)`;
}
