import { existsSync, linkSync, rmSync } from 'node:fs';
import { isHeldSocket, keepLinkPath } from '../protocol/held-socket.js';
import { answers } from '../sockets.js';

// The manager's side of a unix socket path it binds: the keep link that marks the socket as
// held (see worker/unlink-guard), and with it the means to put the path back.

/** Abstract sockets (Linux, a leading NUL) have no file to guard. */
function inFilesystem(path: string): boolean {
  return !path.startsWith('\0');
}

/** Just bound: give the socket its second name. */
export function keepSocketPath(path: string): void {
  if (!inFilesystem(path)) return;
  const keep = keepLinkPath(path);
  rmSync(keep, { force: true });
  try {
    linkSync(path, keep);
  } catch {
    // No hard links here (some network or FUSE filesystems): the socket works, unguarded.
  }
}

/** The path was removed from outside (a worker cannot: see unlink-guard): name the socket again. */
export function restoreSocketPath(path: string): void {
  if (!inFilesystem(path) || existsSync(path)) return;
  try {
    linkSync(keepLinkPath(path), path);
  } catch {
    // The keep link went too: the socket stays unreachable by name until hypnode restarts.
  }
}

/**
 * The socket is closed: its path and keep link go. libuv has removed the path of a socket it
 * bound already; one adopted from another process (an upgrade, the fd store) it leaves.
 */
export function releaseSocketPath(path: string): void {
  if (!inFilesystem(path)) return;
  rmSync(path, { force: true });
  rmSync(keepLinkPath(path), { force: true });
}

/**
 * A socket file with a keep link that nothing accepts on was left by a hypnode that was killed:
 * remove both, so that the path can be bound again. The app's own removal cannot do this, since
 * the guard protects a held socket.
 */
export async function clearStaleSocketPath(path: string): Promise<boolean> {
  if (!isHeldSocket(path) || (await answers(path))) return false;
  rmSync(path, { force: true });
  rmSync(keepLinkPath(path), { force: true });
  return true;
}
