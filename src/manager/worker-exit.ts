import { secs } from '../durations.js';
import { describeOutOfMemory, type OutOfMemory } from './out-of-memory.js';

// How a worker ended, and why, in words a person reads in the log, a failed reload and
// `hypnode status`.

/** Why the manager ended a worker. A worker that ended without one crashed. */
export type EndReason =
  /** Its generation was replaced, or failed to start, before it was ready. */
  | { kind: 'superseded' }
  /** A newer generation took over: it drained. */
  | { kind: 'replaced' }
  | { kind: 'recycled'; why: string }
  | { kind: 'fewer-workers' }
  | { kind: 'stop' }
  | { kind: 'fast-stop' }
  | { kind: 'graceful-timeout'; afterMs: number }
  | { kind: 'heartbeat-timeout'; silentMs: number }
  | { kind: 'ready-timeout'; afterMs: number }
  | { kind: 'not-ready'; reason: string };

export interface WorkerExit {
  pid: number;
  generation: number;
  slot: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why the process could not be started at all (then `pid` is 0). */
  spawnError: string | null;
  endedBy: EndReason | null;
  startedAt: number;
  readyAt: number | null;
  exitedAt: number;
  /** The last listen() the manager could not serve, e.g. `tcp:*:3000 (EADDRINUSE: address already in use)`. */
  listenError: string | null;
  /** It died for want of memory: the kernel's OOM killer or V8's heap limit. */
  outOfMemory: OutOfMemory | null;
}

/** The manager ended it on purpose: no crash, nothing to replace or report. */
export function wasRetired(exit: WorkerExit): boolean {
  const kind = exit.endedBy?.kind;
  return kind !== undefined && kind !== 'heartbeat-timeout' && kind !== 'ready-timeout' && kind !== 'not-ready';
}

/** "worker 123 (generation 4) exited with code 1 0.40 s after it was ready", "... before it was ready", ... */
export function describeExit(exit: WorkerExit): string {
  return `worker ${exit.pid} (generation ${exit.generation}) ${how(exit)}${when(exit)}${exit.listenError ? `, after failing to listen on ${exit.listenError}` : ''}`;
}

function how(exit: WorkerExit): string {
  if (exit.spawnError) return `could not be started: ${exit.spawnError}`;
  const by = exit.endedBy;
  switch (by?.kind) {
    case 'heartbeat-timeout':
      return `was killed after its heartbeat stopped (none for ${secs(by.silentMs)})`;
    case 'ready-timeout':
      return `was killed: not ready within the ready timeout (${secs(by.afterMs)})`;
    case 'graceful-timeout':
      return `was killed: still busy ${secs(by.afterMs)} into its drain (graceful timeout)`;
    case 'not-ready':
      return `was stopped: ${by.reason}`;
  }
  if (exit.outOfMemory) return describeOutOfMemory(exit.outOfMemory, exit.signal, exit.code);
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

function when(exit: WorkerExit): string {
  if (exit.spawnError || exit.endedBy?.kind === 'ready-timeout' || exit.endedBy?.kind === 'not-ready') return '';
  return exit.readyAt === null ? ' before it was ready' : ` ${secs(exit.exitedAt - exit.readyAt)} after it was ready`;
}
