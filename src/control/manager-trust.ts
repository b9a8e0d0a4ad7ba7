import { lstatSync, realpathSync, type Stats } from 'node:fs';
import type net from 'node:net';
import { dirname } from 'node:path';
import { orWithoutAddon, peerCredentials } from '../native.js';
import { fdOf } from '../sockets.js';
import type { InstancePaths } from '../protocol/control.js';

// The CLI checks the manager it talks to, as the manager checks the CLI: a deploy script that
// believes a reload a stranger answered believes a deploy that never happened. A default such as
// /tmp/hypnode-UID sits in a directory anyone can write to, and someone may have made it first.
// So the runtime directory must be the caller's own or root's, or in a place root gave its owner
// (a unit's RuntimeDirectory= under root's /run/hypnode, a user's /run/user/UID), or named by the
// caller (--runtime-dir), and writable by no one else; and the manager's credentials (SO_PEERCRED of the socket, taken
// by the kernel when it listened) must be root's, the caller's, or that directory owner's.

export type Trust = { uids: number[] } | { refusal: string };

/** Whether the manager found in `paths.dir` may be talked to, and as which users it may run. */
export function trustDir(paths: InstancePaths): Trust {
  const own = process.geteuid?.() ?? 0;
  const dir = paths.dir;
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch {
    return { uids: [...new Set([own, 0])] }; // nothing there: the connection says no instance runs
  }
  const fix = `remove it (as root: rm -r ${dir}), or give the instance a runtime directory of your own (--runtime-dir, or XDG_RUNTIME_DIR)`;
  if (st.isSymbolicLink()) return { refusal: `runtime directory ${dir} is a symbolic link (owner uid ${st.uid}): nothing was sent to the manager there; ${fix}` };
  if ((st.mode & 0o022) !== 0) {
    return {
      refusal:
        `runtime directory ${dir} (owner uid ${st.uid}) is writable by others (mode ${(st.mode & 0o7777).toString(8)}): whoever can write there can pose as the manager, ` +
        `so nothing was sent; if it is yours, make it 0700 (chmod go-w ${dir}), otherwise ${fix}`,
    };
  }
  if (st.uid === own || st.uid === 0 || paths.named || givenByRoot(dir, st.uid)) return { uids: [...new Set([own, 0, st.uid])] };
  return {
    refusal: `runtime directory ${dir} belongs to uid ${st.uid}, not to you (uid ${own}) or root: another user may have made it to pose as the manager, so nothing was sent; ${fix}`,
  };
}

/**
 * Whether only root, or `owner` in a place root gave it, could have made `dir`: each directory
 * above it is `owner`'s up to one of root's, and none may be written by others. A unit's
 * /run/hypnode/NAME (systemd made it, as root), a user unit's /run/user/UID/hypnode/NAME.
 */
function givenByRoot(dir: string, owner: number): boolean {
  try {
    for (let d = realpathSync(dirname(dir)); ; d = dirname(d)) {
      const st = lstatSync(d);
      if ((st.mode & 0o022) !== 0) return false;
      if (st.uid === 0) return true;
      if (st.uid !== owner || dirname(d) === d) return false;
    }
  } catch {
    return false;
  }
}

/** Why the manager at the other end of `socket` is not to be trusted, or null when it is. */
export function managerRefusal(socket: net.Socket, paths: InstancePaths, uids: number[]): string | null {
  let uid: number | null;
  try {
    uid = orWithoutAddon(() => peerCredentials(fdOf(socket)).uid, null);
  } catch (err) {
    return `cannot tell who answers on ${paths.socket} (${(err as Error).message}): nothing was sent`;
  }
  // Without the addon only the directory's owner and modes vouch for the manager.
  if (uid === null) return null;
  if (uids.includes(uid)) return null;
  return (
    `the manager at ${paths.socket} runs as uid ${uid}, not as you (uid ${process.geteuid?.() ?? 0}), root or the owner of ${paths.dir}: ` +
    `another user may pose as the manager, so nothing was sent; see who listens there (ss -xlp) and remove the socket`
  );
}
