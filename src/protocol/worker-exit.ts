// How a worker ended, as the manager records it: what the log, a failed reload, status, the
// metrics and an upgrade's new manager (reporting its workers' crashes to the old) all read.
// The words for it are manager/worker-exit.ts's.

/** It died for want of memory: the kernel's OOM killer or V8's heap limit (see manager/out-of-memory). */
export type OutOfMemory = { by: 'kernel' | 'v8-heap'; rssBytes: number };

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
