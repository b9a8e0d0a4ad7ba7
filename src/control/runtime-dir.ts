import { lstatSync, mkdirSync } from 'node:fs';
import { OperationError } from '../errors.js';

// The runtime directory holds the control socket. Whoever can write to it can replace the socket
// (and so answer `hypnode reload` in the manager's place) or remove it, so it must be the
// manager's user's own, or root's, and writable by no one else. A default such as
// /tmp/hypnode-UID sits in a directory anyone can write to: someone may have made it first.

/** Root's own runtime directory is also the parent of units' (RuntimeDirectory=hypnode/NAME): others must pass through it. */
const SHARED_ROOT = '/run/hypnode';

export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: dir === SHARED_ROOT ? 0o755 : 0o700 });
  } catch (err) {
    throw new OperationError(
      `cannot make the runtime directory ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): ` +
        'under systemd with ProtectSystem=, give the unit RuntimeDirectory=hypnode/NAME (as `hypnode unit` writes it), or choose --runtime-dir',
    );
  }
  const st = lstatSync(dir);
  const uid = process.geteuid?.() ?? 0;
  if (st.isSymbolicLink()) throw new OperationError(`runtime directory ${dir} is a symbolic link: name the real directory (--runtime-dir)`, 'UNTRUSTED');
  if (!st.isDirectory()) throw new OperationError(`runtime directory ${dir} is not a directory`, 'UNTRUSTED');
  if (st.uid !== uid && st.uid !== 0) {
    throw new OperationError(`runtime directory ${dir} belongs to uid ${st.uid}, not to you (uid ${uid}) or root: choose another --runtime-dir`, 'UNTRUSTED');
  }
  if ((st.mode & 0o022) !== 0) {
    throw new OperationError(
      `runtime directory ${dir} is writable by others (mode ${(st.mode & 0o7777).toString(8)}): make it 0700 (chmod go-w) or choose another --runtime-dir`,
      'UNTRUSTED',
    );
  }
}
