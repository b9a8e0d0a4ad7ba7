import { EventEmitter } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { listenKeyId } from '../protocol/listen-key.js';
import type { WorkerPhase } from '../protocol/status.js';
import { isWorkerMessage, WORKER_CONFIG_ENV, WORKER_INDEX_ENV, type ManagerToWorker, type WorkerConfig, type WorkerStats } from '../protocol/worker.js';
import type { BalanceTable } from './balance-table.js';
import { Deadline } from './deadline.js';
import { processHost, type Cancel, type Host, type WorkerChild } from './host.js';
import type { ListenerRegistry } from './listeners.js';
import type { Logger } from './log.js';
import { oomCount, outOfMemory } from './out-of-memory.js';
import { OutputTail } from './output-tail.js';
import type { EndReason, WorkerExit } from '../protocol/worker-exit.js';
import { noTraffic } from '../protocol/traffic.js';
import { TrafficHistory } from './traffic-history.js';

// One worker process as the manager sees it. It owns its lifecycle: its state changes only
// through the methods below, and it enforces its own deadlines (ready within the ready timeout,
// a heartbeat within the heartbeat timeout, drained within the graceful timeout), killing itself
// with the reason when one passes.
//
//   starting ──ready──▶ standby ──accept()──▶ serving ──drain()──▶ draining ──▶ drained
//                                               ▲                    │           │
//                                               └──────resume()──────┴───────────┘
//   any state ──kill()──▶ killing ──▶ exited (and from any state, when the process ends)

const PRELOAD = pathToFileURL(fileURLToPath(new URL('../worker/preload.js', import.meta.url))).href;


/**
 * What a worker does once it has finished its connections: `linger` (drained, waiting for
 * release() or resume(): a probation may still need it) or `exit`.
 */
export type OnceDrained = 'linger' | 'exit';

/** What a generation's workers share: the code, and the deadlines each worker keeps itself to. */
export interface WorkerSpec {
  /** The app file and working directory, symlinks resolved when the generation was made. */
  app: string;
  cwd: string;
  args: string[];
  nodeArgs: string[];
  env: Record<string, string>;
  config: Omit<WorkerConfig, 'slot' | 'balance'>;
  /** Passed to the worker as its fds 4, 5, ...: the sinks it writes its output to itself. */
  outputFds: number[];
  /** Where the workers share their counts of connections, passed after the output fds; none: unbalanced. */
  balance?: BalanceTable | null;
  readyTimeoutMs: number;
  heartbeatTimeoutMs: number;
  gracefulTimeoutMs: number;
}

export interface WorkerEvents {
  /** Ready: loaded, listening, and its HTTP servers answered the probe. */
  standby: [];
  'not-ready': [reason: string];
  recycle: [reason: string];
  exit: [exit: WorkerExit];
  /** Its state or figures changed. */
  changed: [];
}

export class WorkerProcess extends EventEmitter<WorkerEvents> {
  readonly pid: number;
  readonly generation: number;
  readonly startedAt: number;
  readonly output = new OutputTail();
  /** Every socket it listens on (by listen key id). */
  readonly listens = new Set<string>();
  /** Its answers' running totals at its recent heartbeats, for the traffic verdict. */
  readonly traffic = new TrafficHistory();
  readonly exited: Promise<WorkerExit>;
  private readonly child: WorkerChild;
  private current: WorkerPhase = 'starting';
  private readyTime: number | null = null;
  private figures: WorkerStats = { rss: 0, heapUsed: 0, requests: 0, connections: 0, linesDropped: 0, loopDelay: 0, traffic: noTraffic() };
  /** Scrapes waiting for the app's metrics, by request id. */
  private readonly metricsWaiting = new Map<number, (metrics: unknown[] | null) => void>();
  private nextMetricsId = 1;
  /** What the app's registry held when the worker was done (it sends it before a deliberate exit). */
  finalMetrics: unknown[] | null = null;
  private endedBy: EndReason | null = null;
  private listenError: string | null = null;
  private spawnError: string | null = null;
  private deadline: Deadline | null = null;
  private heartbeat: Deadline | null = null;
  /** Waiting for the worker's word that it accepts (after accept() or resume()). */
  private onAccepting: (() => void) | null = null;
  private onStoppedAccepting: (() => void) | null = null;

  /** The connections after which it asks to be replaced (--accepts, plus its jitter); 0: never. */
  get acceptsLimit(): number {
    return this.spec.config.accepts;
  }

  constructor(
    private readonly spec: WorkerSpec,
    readonly slot: number,
    registry: ListenerRegistry,
    private readonly log: Logger,
    private readonly host: Host = processHost,
  ) {
    super();
    this.startedAt = host.now();
    this.generation = spec.config.generation;
    const seat = spec.balance?.claim() ?? -1;
    const tableFds = seat >= 0 ? [spec.balance!.fd] : [];
    const balance = seat >= 0 ? { fd: 4 + spec.outputFds.length, seat } : null;
    const config: WorkerConfig = { ...spec.config, slot, balance };
    const index = Object.fromEntries(WORKER_INDEX_ENV.map((name) => [name, String(slot)]));
    this.child = host.fork(spec.app, spec.args, {
      cwd: spec.cwd,
      execArgv: [...spec.nodeArgs, '--import', PRELOAD],
      env: { ...process.env, ...spec.env, ...index, [WORKER_CONFIG_ENV]: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', ...spec.outputFds, ...tableFds],
      // Not `detached`: a session of its own would cost throughput (the worker leaves the
      // terminal's process group itself instead, see leaveForegroundGroup in the preload).
      serialization: 'json',
    });
    // Out of file descriptors or processes, the fork fails: no pid, then an 'error' and no 'exit'.
    // Such a worker counts as one that exited at once, so that its generation retries with backoff
    // (or fails the reload) instead of the manager dying of an unhandled error.
    this.pid = this.child.pid ?? 0;
    const { stdout, stderr } = this.child;
    // Once ready, the worker writes its output itself, after a marker on each pipe: when both
    // have come through (and all before them is written), it is told to go ahead.
    const marker = spec.config.output ? Buffer.from(`${spec.config.output.marker}\n`) : null;
    let markers = 0;
    const seen = () => {
      if (++markers < 2) return;
      log.whenWritten(() => this.send({ hypnode: 'write-directly' }));
    };
    if (stdout) this.output.follow(stdout, (lines) => log.worker(this.generation, this.pid, 'stdout', lines), marker && { line: marker, seen });
    if (stderr) this.output.follow(stderr, (lines) => log.worker(this.generation, this.pid, 'stderr', lines), marker && { line: marker, seen });
    const oomBefore = this.pid ? oomCount(this.pid) : null;
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.current === 'exited') return;
        this.current = 'exited';
        this.clearTimers();
        if (seat >= 0) spec.balance!.release(seat);
        this.onAccepting?.();
        this.onStoppedAccepting?.();
        const exit: WorkerExit = {
          pid: this.pid,
          generation: this.generation,
          slot,
          code,
          signal,
          spawnError: this.spawnError,
          endedBy: this.endedBy,
          startedAt: this.startedAt,
          readyAt: this.readyTime,
          exitedAt: host.now(),
          listenError: this.listenError,
          outOfMemory: this.endedBy ? null : outOfMemory(signal, oomBefore, this.output.text(), this.figures.rss),
        };
        this.emit('exit', exit);
        this.emit('changed');
        resolve(exit);
      };
      this.child.once('exit', ended);
      this.child.on('error', (err) => {
        if (this.pid !== 0) return log.warn(`worker ${this.pid}: ${err.message}`);
        this.spawnError = err.message;
        ended(null, null);
      });
    });
    this.child.on('message', (msg: unknown) => this.onMessage(msg, registry));
    this.deadline = new Deadline(spec.readyTimeoutMs, () => this.kill({ kind: 'ready-timeout', afterMs: spec.readyTimeoutMs }), host);
  }

  get state(): WorkerPhase {
    return this.current;
  }

  /** When it became ready (null: never). */
  get readyAt(): number | null {
    return this.readyTime;
  }

  /** As of its last heartbeat. */
  get stats(): WorkerStats {
    return this.figures;
  }

  /** Alive: not killed, not exited. */
  get live(): boolean {
    return this.current !== 'killing' && this.current !== 'exited';
  }

  /** standby -> ready: take connections from the shared sockets. Resolves once it does (or is gone). */
  accept(): Promise<void> {
    if (this.current !== 'standby') return Promise.resolve();
    return this.untilAccepting({ hypnode: 'accept' });
  }

  /**
   * Stop accepting and finish the connections in hand; killed if still busy after the graceful
   * timeout; `then` says what it does once finished. Resolves once it accepts nothing new (or is gone).
   */
  drain(reason: EndReason, then: OnceDrained): Promise<void> {
    if (this.current === 'starting') {
      this.kill(reason);
      return Promise.resolve();
    }
    if (this.current !== 'standby' && this.current !== 'serving') return Promise.resolve();
    this.endedBy = reason;
    this.current = 'draining';
    this.emit('changed');
    this.clearDeadline();
    this.deadline = new Deadline(this.spec.gracefulTimeoutMs, () => this.kill({ kind: 'graceful-timeout', afterMs: this.spec.gracefulTimeoutMs }), this.host);
    if (!this.child.connected) {
      this.signal('SIGTERM');
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.onStoppedAccepting = () => {
        this.onStoppedAccepting = null;
        resolve();
      };
      this.send({ hypnode: 'drain', linger: then === 'linger' });
    });
  }

  /** Asks it to answer `count` requests for --ready-path, counted as traffic (the traffic verdict's sample). */
  sample(count: number): void {
    this.send({ hypnode: 'sample', count });
  }

  /** --log-file was renamed: the worker opens it again too. */
  reopenOutput(): void {
    this.send({ hypnode: 'reopen-output' });
  }

  /** A lingering (or still draining) worker may exit now: once drained, it does. */
  release(): void {
    if (this.current === 'drained') this.send({ hypnode: 'exit' });
    else if (this.current === 'draining') this.send({ hypnode: 'drain', linger: false });
  }

  /** draining/drained -> ready: accept again. Resolves once it does (or is gone). */
  resume(): Promise<void> {
    if (this.current !== 'draining' && this.current !== 'drained') return Promise.resolve();
    this.endedBy = null;
    this.clearDeadline();
    return this.untilAccepting({ hypnode: 'resume' });
  }

  kill(reason: EndReason): void {
    if (!this.live) return;
    // pid 0 (a fork that failed) would signal the manager's own process group.
    if (this.pid === 0) return;
    this.endedBy = reason;
    this.current = 'killing';
    this.clearTimers();
    this.emit('changed');
    if (reason.kind === 'heartbeat-timeout' || reason.kind === 'ready-timeout' || reason.kind === 'graceful-timeout') {
      this.log.warn(`worker ${this.pid} (generation ${this.generation}) ${killedFor(reason)}: killing it`);
    }
    this.signal('SIGKILL');
  }

  private untilAccepting(msg: ManagerToWorker): Promise<void> {
    return new Promise((resolve) => {
      this.onAccepting = () => {
        this.onAccepting = null;
        resolve();
      };
      this.send(msg);
    });
  }

  private onMessage(msg: unknown, registry: ListenerRegistry): void {
    if (!isWorkerMessage(msg)) return;
    switch (msg.hypnode) {
      case 'listen':
        void registry.acquire(msg.key).then((got) => {
          if (!this.child.connected) return;
          if ('error' in got) {
            this.listenError = `${listenKeyId(msg.key)} (${got.error.code}: ${got.error.message})`;
            this.log.warn(`worker ${this.pid} (generation ${this.generation}) cannot listen on ${this.listenError}`);
            return this.send({ hypnode: 'listen-reply', id: msg.id, error: got.error });
          }
          this.listens.add(got.id);
          this.child.send({ hypnode: 'listen-reply', id: msg.id, error: null }, got.handle as never);
        });
        return;
      case 'ready':
        if (this.current !== 'starting') return;
        this.current = 'standby';
        this.readyTime = this.host.now();
        this.clearDeadline();
        this.beat();
        this.emit('standby');
        this.emit('changed');
        return;
      case 'not-ready':
        if (this.current !== 'starting') return;
        this.emit('not-ready', msg.reason);
        this.kill({ kind: 'not-ready', reason: msg.reason });
        return;
      case 'accepting':
        if (this.current === 'standby' || this.current === 'draining' || this.current === 'drained') {
          this.current = 'serving';
          this.emit('changed');
        }
        this.onAccepting?.();
        return;
      case 'heartbeat':
        this.figures = msg.stats;
        this.traffic.add(msg.stats.traffic);
        if (this.current !== 'starting') this.beat();
        return;
      case 'stopped-accepting':
        this.onStoppedAccepting?.();
        return;
      case 'drained':
        if (this.current !== 'draining') return;
        // Finished: nothing left for the graceful timeout to cut.
        this.current = 'drained';
        this.clearDeadline();
        this.emit('changed');
        return;
      case 'recycle':
        this.emit('recycle', msg.reason);
        return;
      case 'metrics':
        if (msg.id === 0) this.finalMetrics = msg.metrics;
        else this.metricsWaiting.get(msg.id)?.(msg.metrics);
        return;
    }
  }

  /** The app's metrics as prom-client's JSON; null if it exposes none, or does not answer within `timeoutMs`. */
  metrics(timeoutMs: number): Promise<unknown[] | null> {
    if (!this.child.connected) return Promise.resolve(null);
    const id = this.nextMetricsId++;
    return new Promise((resolve) => {
      let cancel: Cancel = () => {};
      const done = (metrics: unknown[] | null) => {
        cancel();
        this.metricsWaiting.delete(id);
        resolve(metrics);
      };
      cancel = this.host.after(timeoutMs, () => done(null));
      this.metricsWaiting.set(id, done);
      void this.exited.then(() => done(null));
      this.send({ hypnode: 'metrics', id });
    });
  }

  /** A heartbeat came (or the worker became ready): the next is due within the heartbeat timeout. */
  private beat(): void {
    this.heartbeat?.cancel();
    const since = this.host.now();
    this.heartbeat = new Deadline(this.spec.heartbeatTimeoutMs, () => this.kill({ kind: 'heartbeat-timeout', silentMs: this.host.now() - since }), this.host);
  }

  private send(msg: ManagerToWorker): void {
    if (this.child.connected) this.child.send(msg);
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      this.host.kill(this.pid, signal);
    } catch {
      // Already gone: the exit event follows.
    }
  }

  private clearDeadline(): void {
    this.deadline?.cancel();
    this.deadline = null;
  }

  private clearTimers(): void {
    this.clearDeadline();
    this.heartbeat?.cancel();
    this.heartbeat = null;
  }
}

function killedFor(reason: EndReason): string {
  switch (reason.kind) {
    case 'heartbeat-timeout':
      return `sent no heartbeat for ${Math.round(reason.silentMs / 1000)}s`;
    case 'ready-timeout':
      return `not ready after ${Math.round(reason.afterMs / 1000)}s`;
    case 'graceful-timeout':
      return `still busy ${reason.afterMs / 1000}s into its drain (graceful timeout)`;
    default:
      return reason.kind;
  }
}
