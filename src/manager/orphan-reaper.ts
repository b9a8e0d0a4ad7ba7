import type { ChildProcess } from 'node:child_process';
import { orWithoutAddon, reapChild, setChildSubreaper } from '../native.js';
import { children } from './children.js';

// The manager adopts the orphans of its workers' descendants: as a container's main process (PID
// 1 in its PID namespace) it inherits every orphan there anyway, and elsewhere it asks to
// (PR_SET_CHILD_SUBREAPER), so that a process an app started and left behind (a detached child
// of a worker that exited, a daemon that double-forked) is its child, to be ended at stop (see
// leftovers.ts) rather than live on under init holding the app's port. Nobody else will wait for
// them, so each one that exits would stay a zombie for good. They are waited for here, by pid, one
// by one: never a child libuv started (the workers, an upgrade's shell), whose exit libuv waits
// for itself and reports.

/** Children libuv started besides the workers: never reaped here. */
const started = new Set<number>();
/** This process is a child subreaper (see reapOrphans). */
let adopting = false;

/** Adopts and reaps orphans; returns a warning to log when it cannot. */
export function reapOrphans(workers: () => ReadonlySet<number>): string | null {
  let loaded: boolean;
  try {
    loaded = orWithoutAddon(() => {
      if (process.pid !== 1) setChildSubreaper(true);
      else reapChild(process.pid); // loads the addon (and is a no-op: no process is its own child)
      return true;
    }, false);
  } catch (err) {
    // A kernel (or an emulator, qemu-user) without PR_SET_CHILD_SUBREAPER: orphans go to init.
    return `cannot adopt the orphans of the app's processes (${(err as Error).message}): what the app leaves behind may outlive a stop`;
  }
  if (!loaded) {
    if (process.pid !== 1) return null; // loadNative's warning says what goes without the addon
    return 'running as PID 1 without the native addon: orphaned processes are not reaped; run the container with an init (docker run --init, or tini)';
  }
  adopting = process.pid !== 1;
  let queued = false;
  process.on('SIGCHLD', () => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      const own = ownChildren(workers());
      for (const child of children()) if (child.zombie && !own.has(child.pid)) reapChild(child.pid);
    });
  });
  return null;
}

/** The children libuv started: the workers, and what spawnUnadopted() started. */
export function ownChildren(workers: ReadonlySet<number>): Set<number> {
  return new Set([...workers, ...started]);
}

/**
 * Starts a process that must not be adopted: an upgrade's new manager, started through a shell
 * that exits at once so that it becomes systemd's (or init's) child. Adopting orphans is off until
 * that shell has exited, and its grandchild with it gone to init.
 */
export function spawnUnadopted(start: () => ChildProcess): ChildProcess {
  if (adopting) setChildSubreaper(false);
  const child = start();
  const resume = () => void (adopting && setChildSubreaper(true));
  if (!child.pid) {
    resume();
    return child;
  }
  const pid = child.pid;
  started.add(pid);
  child.once('exit', () => {
    started.delete(pid);
    resume();
  });
  return child;
}
