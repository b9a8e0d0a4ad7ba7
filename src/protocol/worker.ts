import type { BalanceSeat } from './balance.js';
import type { ListenKey } from './listen-key.js';
import type { TrafficCounts } from './traffic.js';

// The IPC vocabulary between the manager and its workers. Every message carries the `hypnode`
// marker so that the app's own process.on('message') listeners can tell ours apart, and so that
// PM2-style `process.send('ready')` strings from the app never collide with it.

export interface WorkerStats {
  rss: number;
  heapUsed: number;
  /** Lines of its output dropped because the sink took none (see worker/output.ts). */
  linesDropped: number;
  /** HTTP requests received (the readiness probe's aside). */
  requests: number;
  /** Connections open now. */
  connections: number;
  /** The 99th percentile of its event loop's delay since the last heartbeat, in seconds (0 when not measured). */
  loopDelay: number;
  /** Its HTTP answers so far, for the traffic verdict. */
  traffic: TrafficCounts;
}

export type WorkerToManager =
  | { hypnode: 'listen'; id: number; key: ListenKey }
  /** Every listen() completed, the app let go of readiness, and its HTTP servers answered the probe. */
  | { hypnode: 'ready' }
  /** The app cannot serve: its readiness probe got a 5xx or failed. */
  | { hypnode: 'not-ready'; reason: string }
  /** After `accept` or `resume`: the worker's servers take new connections from the shared sockets. */
  | { hypnode: 'accepting' }
  | { hypnode: 'heartbeat'; stats: WorkerStats }
  /** The worker closed its listening sockets: from now on it accepts nothing new. */
  | { hypnode: 'stopped-accepting' }
  /** A lingering drain ended: no connection is left, and the worker waits for `exit` or `resume`. */
  | { hypnode: 'drained' }
  /** The worker asks to be replaced gracefully (accepts limit, memory ceiling). */
  | { hypnode: 'recycle'; reason: string }
  /** The app's prom-client metrics (getMetricsAsJSON()), or null when it exposes none. */
  | { hypnode: 'metrics'; id: number; metrics: unknown[] | null };

export type ManagerToWorker =
  | { hypnode: 'listen-reply'; id: number; error: null | { code: string; message: string } }
  /** Start accepting on the shared sockets: a new worker does not until it is told, once ready. */
  | { hypnode: 'accept' }
  /**
   * Stop accepting and finish the connections in hand. With `linger`, a worker that has finished
   * stays (accepting nothing) until `exit` or `resume`: its generation may be asked to serve again
   * if the one that replaced it dies in its probation.
   */
  | { hypnode: 'drain'; linger: boolean }
  | { hypnode: 'resume' }
  | { hypnode: 'exit' }
  /** --log-file was renamed: open it again by its name. */
  | { hypnode: 'reopen-output' }
  /** What the worker wrote through the manager is written: it may write straight to the sinks now. */
  | { hypnode: 'write-directly' }
  /** A scrape: the app's metrics, if it exposes them (exposeMetrics() from 'hypnode'). */
  | { hypnode: 'metrics'; id: number }
  /** Answer `count` requests for the readiness probe's path, counted as traffic: the traffic verdict's sample (--verdict require). */
  | { hypnode: 'sample'; count: number };

/** Where a worker writes its output itself once ready (see worker/output.ts). */
export interface OutputStream {
  /** The sink, as the worker has it (an fd the manager passed). */
  fd: number;
  /** Its lock's memfd, or -1 when every write to it is atomic by itself (a regular file). */
  lockFd: number;
  /** Lines start with their syslog priority (`<6>`): the sink is the journal. */
  journal: boolean;
}

export interface OutputConfig {
  stdout: OutputStream;
  stderr: OutputStream;
  format: 'text' | 'json';
  /** --log-file, to reopen by its name; null for the manager's stdout and stderr. */
  path: string | null;
  /**
   * The line a worker writes to its stdout and stderr pipes once ready: the manager, having
   * passed on everything before it, answers `write-directly`, so that no line overtakes another.
   */
  marker: string;
  /** Bytes of output the worker holds while the sinks are slow (--log-buffer). */
  buffer: number;
  /** Milliseconds a sink may take nothing before the worker drops what it holds (--log-stall-timeout). */
  stallMs: number;
}

/** Settings a worker needs, passed in its environment so they are there before the app loads. */
export interface WorkerConfig {
  generation: number;
  /** 0..workers-1: a replacement takes the slot of the worker it replaces. */
  slot: number;
  heartbeatInterval: number;
  waitReady: boolean;
  /** The readiness probe's path, or null for none. */
  readyPath: string | null;
  accepts: number;
  maxRss: number;
  /** Measure the event loop's delay (for --admin's metrics). */
  loopDelay: boolean;
  idleCloseAfter: number;
  /** The worker's parent: when another process becomes its parent, the manager is dead. */
  managerPid: number;
  /** Where to write its output itself once ready; null: everything through the manager. */
  output: OutputConfig | null;
  /** Its record in the table of open connections that balances accepting; null: it accepts whenever it can. */
  balance: BalanceSeat | null;
}

export const WORKER_CONFIG_ENV = 'HYPNODE_WORKER_CONFIG';
/** What an app reads to tell workers apart (PM2's name for it too). */
export const WORKER_INDEX_ENV = ['HYPNODE_WORKER_INDEX', 'NODE_APP_INSTANCE'] as const;

export function isWorkerMessage(msg: unknown): msg is WorkerToManager {
  return typeof msg === 'object' && msg !== null && typeof (msg as { hypnode?: unknown }).hypnode === 'string';
}
