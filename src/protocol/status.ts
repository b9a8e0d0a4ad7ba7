import type { ErrorCode } from './error-codes.js';

// What the manager reports: `hypnode status --json`, the answer to a reload, and what the CLI
// shows of both. The fields are documented in the README and stable: new ones may be added,
// none renamed or removed.

/**
 * `starting`: no generation has served yet, and none of its workers crashed; `serving`: some
 * worker of the current generation is ready and accepting; `failing`: none is (they crash, or
 * hang at boot); `stopping`, `stopped`.
 */
export type ManagerState = 'starting' | 'serving' | 'failing' | 'stopping' | 'stopped';

/**
 * A worker's lifecycle in the manager. `standby`: ready, waiting for its generation to take over;
 * `serving`: accepting connections; `drained`: finished its drain, kept until the reload's probation
 * ends; `killing`: killed, its exit not yet seen.
 */
export type WorkerPhase = 'starting' | 'standby' | 'serving' | 'draining' | 'drained' | 'killing' | 'exited';

/**
 * The phase's older spelling, where `serving` is `ready`: kept in `workers[].state` and the
 * `state` label of the metrics, since the status fields are documented as stable and scripts and
 * dashboards match on that value. `phase` says the same in the names the code uses.
 */
export type WorkerState = Exclude<WorkerPhase, 'serving'> | 'ready';

export const wireState = (phase: WorkerPhase): WorkerState => (phase === 'serving' ? 'ready' : phase);

export interface WorkerStatus {
  pid: number;
  generation: number;
  slot: number;
  phase: WorkerPhase;
  /** `phase` in its older spelling (see WorkerState). */
  state: WorkerState;
  startedAt: number;
  uptimeMs: number;
  readyAt: number | null;
  requests: number;
  connections: number;
  rss: number;
  heapUsed: number;
  /** The 99th percentile of its event loop delay over its last heartbeat interval, in seconds. */
  loopDelay: number;
  /** Lines of its output it dropped (see logLinesDropped). */
  linesDropped: number;
  /** The connections after which it is replaced (--accepts plus its jitter), 0: never. */
  acceptsLimit: number;
}

export interface GenerationStatus {
  id: number;
  state: 'starting' | 'serving' | 'draining' | 'done';
  /** The release it runs: the app file and working directory with symlinks resolved when it started. */
  app: string;
  cwd: string;
  createdAt: number;
  workersWanted: number;
  workersReady: number;
}

/** What serves after a reload: the current generation's ready workers (and, after a batched reload failed midway, older ones'). */
export interface Serving {
  generation: number;
  ready: number;
  wanted: number;
  /** Older generations that still serve the slots a batched reload did not reach. */
  others?: { generation: number; ready: number }[];
}

export type ReloadResult =
  | {
      ok: true;
      generation: number;
      /** When the reload started, every new worker was ready, the old stopped accepting, finished, and it all ended. */
      startedAt: number;
      readyAt: number;
      servingAt: number;
      drainedAt: number;
      doneAt: number;
      /** Old workers killed still busy at the graceful timeout: these did not drain. */
      killedDraining: number;
      /** The traffic verdict in words (see manager/traffic-judge.ts); absent when none was asked. */
      traffic?: string;
    }
  | {
      ok: false;
      /** The generation that serves (or should) after the failure. */
      generation: number;
      /** The generation that failed, null when none was started. */
      attempted: number | null;
      startedAt: number;
      code: ErrorCode;
      error: string;
      output: string;
      serving: Serving | null;
    };

export type Crash = { at: number; message: string; output: string };

/** Which code and Node a manager runs, and where that Node is (the path it was started by). */
export interface ManagerRuntime {
  hypnode: string;
  node: string;
  nodePath: string;
}

/** An upgrade of the manager itself: `from` ran before, `to` after (or would have). */
export type UpgradeResult =
  | {
      ok: true;
      from: ManagerRuntime & { pid: number };
      to: ManagerRuntime & { pid: number };
      startedAt: number;
      /** The new manager's workers were ready, served every new connection, and the old had drained. */
      readyAt: number;
      servingAt: number;
      doneAt: number;
    }
  | {
      ok: false;
      from: ManagerRuntime & { pid: number };
      startedAt: number;
      code: ErrorCode;
      error: string;
      output: string;
    };

/** A release that served (see manager/release-history.ts). */
export interface ReleaseRecord {
  /** The generation that runs it, or ran it last. */
  generation: number;
  /** The app file and working directory, symlinks resolved when it was deployed. */
  app: string;
  cwd: string;
  /** When it came to serve (again). */
  since: number;
  /** It serves again by `hypnode rollback`. */
  rolledBackTo: boolean;
}

export interface Status extends ManagerRuntime {
  pid: number;
  /** The app's path as given to `hypnode start` (symlinks kept). */
  app: string;
  name: string | null;
  state: ManagerState;
  reloading: boolean;
  startedAt: number;
  generation: number | null;
  codeLoadedAt: number | null;
  workersWanted: number;
  workersReady: number;
  workers: WorkerStatus[];
  /** The releases that served, newest (the current one) first: what `hypnode rollback` goes back to. */
  releases: ReleaseRecord[];
  generations: GenerationStatus[];
  lastReload: ReloadResult | null;
  /** The last upgrade of the manager, as this manager knows it (its own start, if it began so). */
  lastUpgrade: UpgradeResult | null;
  lastCrash: Crash | null;
  /** Lines of output dropped because the log's destination took none (a stalled pipe, a full disk). */
  logLinesDropped: number;
}

/** What the operator must know after a failed reload: does the old code still serve? */
export function servingWords(s: Serving | null): string {
  if (s?.others?.length) {
    const older = s.others.reduce((n, o) => n + o.ready, 0);
    return `generation ${s.generation} serves ${s.ready} of ${s.ready + older} workers; generation ${s.others.map((o) => o.generation).join(' and ')} the other ${older}`;
  }
  if (!s || s.ready === 0) return `nothing serves: generation ${s?.generation ?? '-'} has no ready worker`;
  return `the old code keeps serving (generation ${s.generation}, ${s.ready}/${s.wanted} workers ready)`;
}

/** A reload's old workers that did not drain: killed at the graceful timeout. */
export function killedWords(killed: number): string {
  return `${killed} old worker${killed === 1 ? '' : 's'} killed, still busy at the graceful timeout (not drained)`;
}
