import { closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { OperationError } from '../errors.js';
import { orWithoutAddon, tryLock } from '../native.js';
import type { InstancePaths } from '../protocol/control.js';

// Two `hypnode start` of one instance at the same moment must not both win, and a control socket
// left by a manager that was killed must be replaced by exactly one of them. The lock is a file
// beside the control socket, in the runtime directory only its owner may write to (another user
// can neither take it nor make it first), locked with flock(): the kernel frees the lock when its
// holder ends, however it ends, so a file left behind is never a stale lock. It holds the
// holder's PID, for the message of a start that lost. Without the native addon (or off Linux)
// there is no lock, and the control socket probe alone guards the start.

export interface InstanceLock {
  /** The lock file's fd, for a successor manager to hold it on; null where there is no lock. */
  readonly fd: number | null;
  /** Frees the lock and removes its file (the manager stops). */
  release(): void;
  /** Lets go of this process's hold: a successor manager holds the lock by the same open file. */
  handOver(): void;
}

const NO_LOCK: InstanceLock = { fd: null, release() {}, handOver() {} };

/** How long a start that lost waits for the winner to write its PID into the lock file. */
const HOLDER_PID_WAIT_MS = 1000;

/** The lock file of the instance whose control socket is `paths.socket`. */
export function lockPath(paths: InstancePaths): string {
  return paths.socket.replace(/\.sock$/, '.lock');
}

/** Takes the start lock; its runtime directory must be private already (ensurePrivateDir). */
export async function lockInstance(paths: InstancePaths): Promise<InstanceLock> {
  const path = lockPath(paths);
  // A stopping manager removes the file while it holds the lock: whoever locked the removed file
  // meanwhile holds nothing, and tries the new one.
  for (;;) {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    let locked: boolean | null;
    try {
      locked = orWithoutAddon(() => tryLock(fd), null);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    if (locked === null) {
      closeSync(fd);
      unlinkSync(path);
      return NO_LOCK;
    }
    if (!locked) {
      closeSync(fd);
      throw new OperationError(await heldBy(path, paths), 'ALREADY_RUNNING');
    }
    if (sameFile(fd, path)) {
      writePid(fd);
      return held(fd, path);
    }
    closeSync(fd);
  }
}

/** A lock handed over by a predecessor manager: the fd holds it already. */
export function adoptLock(fd: number, paths: InstancePaths): InstanceLock {
  // A predecessor of an older hypnode hands over the abstract socket it locked with: held by its fd as well.
  if (!fstatSync(fd).isFile()) return { fd, release: () => closeSync(fd), handOver: () => closeSync(fd) };
  writePid(fd);
  return held(fd, lockPath(paths));
}

function held(fd: number, path: string): InstanceLock {
  return {
    fd,
    release() {
      if (sameFile(fd, path)) unlinkSync(path);
      closeSync(fd);
    },
    handOver: () => closeSync(fd),
  };
}

function sameFile(fd: number, path: string): boolean {
  try {
    return lstatSync(path).ino === fstatSync(fd).ino;
  } catch {
    return false;
  }
}

function writePid(fd: number): void {
  ftruncateSync(fd, 0);
  writeSync(fd, `${process.pid}\n`, 0);
}

async function heldBy(path: string, paths: InstancePaths): Promise<string> {
  const deadline = performance.now() + HOLDER_PID_WAIT_MS;
  let pid = '';
  for (;;) {
    try {
      pid = readFileSync(path, 'utf8').trim();
    } catch {
      // removed by a manager that stopped meanwhile
    }
    if (pid || performance.now() > deadline) break;
    await delay(20);
  }
  return `hypnode is already running or starting for ${paths.label}${/^\d+$/.test(pid) ? ` (manager pid ${pid})` : ''}`;
}
