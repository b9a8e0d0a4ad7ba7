import { readdirSync, readFileSync } from 'node:fs';
import { NativeAddonError, reapChild } from '../native.js';

// As a container's main process (PID 1 in its PID namespace) the manager inherits every orphan
// there: a process an app started and left behind (a worker's child that forked and exited).
// Nobody else will wait for them, so each one that exits would stay a zombie for good. They are
// waited for here, by pid, one by one: never a child libuv started (the workers), whose exit
// libuv waits for itself and reports.

/** Starts reaping when this process is PID 1; returns a warning to log when it cannot. */
export function reapOrphans(ownChildren: () => ReadonlySet<number>): string | null {
  if (process.pid !== 1) return null;
  try {
    reapChild(process.pid); // loads the addon (and is a no-op: no process is its own child)
  } catch (err) {
    if (!(err instanceof NativeAddonError)) throw err;
    return 'running as PID 1 without the native addon: orphaned processes are not reaped; run the container with an init (docker run --init, or tini)';
  }
  let queued = false;
  process.on('SIGCHLD', () => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      const own = ownChildren();
      for (const pid of exitedChildren()) if (!own.has(pid)) reapChild(pid);
    });
  });
  return null;
}

/** Children of this process that have exited and wait to be reaped (zombies), as /proc tells. */
function exitedChildren(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold anything, so read after its last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z' && Number(ppid) === process.pid) pids.push(Number(name));
  }
  return pids;
}
