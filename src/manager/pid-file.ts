import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { OperationError } from '../errors.js';

// Written atomically (a temporary file created exclusively, then renamed over the name): a
// reader never sees a partial PID, a symlink planted at the name is replaced rather than
// followed, and the PID in it is the manager's for its whole life, reloads included. An upgrade
// of the manager rewrites it, the same way, to name the new one before the old exits. The file is
// 0644 whatever the umask allows more of: readable by all, writable by its owner alone.

/** `replacing`: the manager this one takes over from (an upgrade), whose PID the file may name. */
export function writePidFile(path: string, pid = process.pid, replacing: number | null = null): void {
  const holder = runningManager(path, pid);
  if (holder !== null && holder !== replacing) {
    throw new OperationError(`PID file ${path} names hypnode manager ${holder}, which is running: give this instance a PID file of its own`);
  }
  // A random name: in a directory others can write to, a guessable one could be taken first.
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    writeSync(fd, `${pid}\n`);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Removes the file only if it still names this process. */
export function removePidFile(path: string, pid = process.pid): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(pid)) rmSync(path);
  } catch {
    // Gone already, or replaced by someone else's: leave it.
  }
}

/**
 * The PID in an existing file, if that process is a running hypnode manager other than `self`;
 * null when the file is absent or stale (left by a crash, its PID dead or reused by another
 * program), so that it may be replaced.
 */
function runningManager(path: string, self: number): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(path, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === self) return null;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive, another user's. Whether it is a hypnode is told by its command line below.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return isHypnodeManager(pid) ? pid : null;
}

/** `hypnode start ...` or `node .../cli/main.js start ...`, as far as /proc tells. */
function isHypnodeManager(pid: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    // No /proc (not Linux): a live process in the file is taken at its word.
    return process.platform !== 'linux';
  }
  const cli = argv.findIndex((a) => /(^|\/)hypnode$|\/cli\/main\.js$/.test(a));
  return cli >= 0 && argv[cli + 1] === 'start';
}
