import { openSync, readFileSync, renameSync, rmSync, writeSync, closeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

// Written once, atomically (a temporary file created exclusively, then renamed over the name):
// a reader never sees a partial PID, a symlink planted at the name is replaced rather than
// followed, and the PID in it is the manager's for its whole life, reloads included.

export function writePidFile(path: string, pid = process.pid): void {
  const tmp = join(dirname(path), `.${basename(path)}.${pid}.tmp`);
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Removes the file only if it still names this process. */
export function removePidFile(path: string, pid = process.pid): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(pid)) rmSync(path);
  } catch {
    // Gone already, or replaced by someone else's: leave it.
  }
}
