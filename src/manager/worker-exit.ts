import { secs } from '../durations.js';
import type { WorkerExit } from '../protocol/worker-exit.js';
import { describeOutOfMemory } from './out-of-memory.js';

// How a worker ended, and why, in words a person reads in the log, a failed reload and
// `hypnode status`.

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
