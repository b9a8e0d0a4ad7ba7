import { setTimeout as delay } from 'node:timers/promises';
import { children } from './children.js';

// What the app started must not outlive it (as systemd ends a service's whole control group):
//  - when a worker exits, its process group (each worker leads one, see worker/preload.ts): the
//    children it started the plain way, though they now hold the app's port by themselves;
//  - when the manager stops, every process it adopted (see orphan-reaper.ts): what left the
//    worker's group (a `detached: true` child, a daemon in a session of its own) and was orphaned.
// Each gets SIGTERM, and SIGKILL if it is still there KILL_AFTER_MS later, as systemd's stop does.

const KILL_AFTER_MS = 2000;
const POLL_MS = 20;

/**
 * After worker `pid` exited: its process group (if any process is left in it) is sent SIGTERM,
 * then SIGKILL. `isWorker`: a pid that is a worker again (reused) is never signalled.
 */
export function endWorkerGroup(pid: number, isWorker: (pid: number) => boolean): void {
  if (pid <= 0 || !signalGroup(pid, 'SIGTERM')) return;
  // The group's id cannot be reused as a pid while the group has a member left.
  setTimeout(() => {
    if (!isWorker(pid)) signalGroup(pid, 'SIGKILL');
  }, KILL_AFTER_MS).unref();
}

/**
 * Ends every child of this process that is not `own()`: SIGTERM, then SIGKILL after KILL_AFTER_MS,
 * again for those adopted meanwhile (the children of the ones ended). Resolves once none is left
 * (their zombies reaped or not: they hold nothing any more), or only those SIGKILL did not end
 * within KILL_AFTER_MS more (stuck in the kernel): `ended` and `stuck` name them.
 */
export async function endAdopted(own: () => ReadonlySet<number>): Promise<{ ended: number[]; stuck: number[] }> {
  const seenAt = new Map<number, number>();
  for (;;) {
    const now = performance.now();
    const left = children().filter((c) => !c.zombie && !own().has(c.pid)).map((c) => c.pid);
    const waiting = left.filter((pid) => now - (seenAt.get(pid) ?? now) < 2 * KILL_AFTER_MS);
    if (waiting.length === 0) return { ended: [...seenAt.keys()], stuck: left };
    for (const pid of waiting) {
      const seen = seenAt.get(pid);
      if (seen === undefined) {
        seenAt.set(pid, now);
        signal(pid, 'SIGTERM');
      } else if (now - seen >= KILL_AFTER_MS) {
        signal(pid, 'SIGKILL');
      }
    }
    await delay(POLL_MS);
  }
}

function signalGroup(pgid: number, name: NodeJS.Signals): boolean {
  return signal(-pgid, name);
}

function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false; // gone already
  }
}
