import { EventEmitter } from 'node:events';
import { Backoff } from './backoff.js';
import type { ListenerRegistry } from './listeners.js';
import type { Logger } from './log.js';
import { WorkerProcess, type WorkerSpec } from './worker-process.js';

// A generation: the workers that run one load of the app's code. It starts them, keeps their
// number up (respawning crashed ones with backoff, replacing recycled ones before they go), and
// drains them when a newer generation takes over.

export type GenerationState = 'starting' | 'serving' | 'draining' | 'done';

/** The new code could not start: `output` holds what its workers wrote. */
export class StartFailure extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

export interface GenerationDeps {
  registry: ListenerRegistry;
  log: Logger;
  spec: WorkerSpec;
  gracefulTimeoutMs: number;
  /** A worker not ready this long after its fork is killed, whenever it was started. */
  upgradeTimeoutMs: number;
}

interface Waiter {
  resolve(): void;
  reject(err: StartFailure): void;
}

export class Generation extends EventEmitter<{ changed: [] }> {
  readonly workers = new Set<WorkerProcess>();
  readonly createdAt = Date.now();
  state: GenerationState = 'starting';
  readyAt: number | null = null;
  lastCrash: { at: number; message: string; output: string } | null = null;
  private readonly retired = new WeakSet<WorkerProcess>();
  private readonly respawns = new Set<NodeJS.Timeout>();
  private readonly backoff = new Backoff();
  private waiter: Waiter | null = null;
  private failFast = false;

  constructor(
    readonly id: number,
    private target: number,
    private readonly deps: GenerationDeps,
  ) {
    super();
  }

  get size(): number {
    return this.target;
  }

  readyCount(): number {
    return [...this.workers].filter((w) => w.state === 'ready').length;
  }

  /**
   * Starts the workers; resolves once all are ready. With `failFast` (a reload) the first worker
   * that exits before it is ready fails the start, as does the timeout; without it (the first
   * start) crashed workers are respawned with backoff until they come up.
   */
  start(failFast: boolean, timeoutMs: number | null): Promise<void> {
    this.failFast = failFast;
    const started = new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
    for (let i = 0; i < this.target; i++) this.spawn();
    if (timeoutMs !== null) {
      const timer = setTimeout(
        () => this.failStart(`not ready within ${timeoutMs / 1000}s (${this.readyCount()} of ${this.target} workers ready)`, this.outputs()),
        timeoutMs,
      );
      void started.then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
    }
    return started;
  }

  /** Sends every worker to drain; resolves once each has stopped accepting (or is gone). */
  async stopAccepting(): Promise<void> {
    this.state = 'draining';
    this.cancelRespawns();
    this.failStart(`generation ${this.id} was stopped before it was ready`, this.outputs());
    const waits: Promise<unknown>[] = [];
    for (const w of this.workers) {
      this.retired.add(w);
      if (w.state === 'starting') {
        w.kill('SIGKILL', 'superseded before it was ready');
      } else if (w.state !== 'exited') {
        waits.push(new Promise<void>((resolve) => (w.once('stopped-accepting', () => resolve()), w.once('exit', () => resolve()))));
        w.drain(this.deps.gracefulTimeoutMs, `generation ${this.id} drains`);
      }
    }
    await Promise.all(waits);
    this.emit('changed');
  }

  /** Resolves once every worker has exited. */
  async drained(): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.waitExit()));
    this.state = 'done';
    this.emit('changed');
  }

  /** Kills every worker at once (a failed start, or a fast stop). */
  async destroy(reason: string): Promise<void> {
    this.state = 'draining';
    this.cancelRespawns();
    this.failStart(`generation ${this.id} was stopped before it was ready`, this.outputs());
    for (const w of this.workers) {
      this.retired.add(w);
      w.kill('SIGKILL', reason);
    }
    await this.drained();
  }

  resize(target: number): void {
    this.target = target;
    const live = [...this.workers].filter((w) => !this.retired.has(w) && w.state !== 'exited');
    for (let i = live.length + this.respawns.size; i < target; i++) this.spawn();
    for (const w of live.slice(target).reverse()) {
      this.retired.add(w);
      w.drain(this.deps.gracefulTimeoutMs, 'fewer workers asked for');
    }
    this.emit('changed');
  }

  checkHeartbeats(now: number, timeoutMs: number): void {
    for (const w of this.workers) {
      if ((w.state === 'ready' || w.state === 'draining') && now - w.lastBeat > timeoutMs) {
        this.deps.log.warn(`worker ${w.pid} (generation ${this.id}) sent no heartbeat for ${Math.round((now - w.lastBeat) / 1000)}s: killing it`);
        w.kill('SIGKILL', 'heartbeat timeout');
      }
      // A reload's own timeout covers its new workers; this covers the rest: the first start, a
      // crashed worker's replacement and a recycled worker's successor, which would otherwise
      // hang at boot unnoticed (heartbeats are no measure before the app has loaded).
      if (w.state === 'starting' && now - w.startedAt > this.deps.upgradeTimeoutMs) {
        this.deps.log.warn(`worker ${w.pid} (generation ${this.id}) not ready after ${Math.round((now - w.startedAt) / 1000)}s: killing it`);
        w.kill('SIGKILL', 'upgrade timeout');
      }
    }
  }

  /** Every socket a live worker of this generation listens on. */
  listenIds(): Set<string> {
    const ids = new Set<string>();
    for (const w of this.workers) if (w.state !== 'exited') for (const id of w.listens) ids.add(id);
    return ids;
  }

  private spawn(): WorkerProcess {
    const w = new WorkerProcess(this.deps.spec, this.deps.registry, this.deps.log);
    this.workers.add(w);
    w.on('ready', () => this.onReady());
    w.on('exit', () => this.onExit(w));
    w.on('recycle', (reason) => this.recycle(w, reason));
    this.emit('changed');
    return w;
  }

  private onReady(): void {
    this.emit('changed');
    if (this.state === 'starting' && this.readyCount() >= this.target) {
      this.state = 'serving';
      this.readyAt = Date.now();
      this.waiter?.resolve();
      this.waiter = null;
    }
  }

  private onExit(w: WorkerProcess): void {
    this.workers.delete(w);
    this.emit('changed');
    if (this.retired.has(w) || this.state === 'draining' || this.state === 'done') return;
    const how = describeExit(w);
    if (this.state === 'starting' && this.failFast) {
      this.failStart(`worker ${w.pid} ${how} before it was ready`, w.output.text());
      return;
    }
    const delay = this.backoff.failed(w.readyAt);
    this.lastCrash = { at: Date.now(), message: `worker ${w.pid} ${how}`, output: w.output.text() };
    this.deps.log.warn(`worker ${w.pid} (generation ${this.id}) ${how}; ${delay > 0 ? `starting another in ${delay} ms` : 'starting another'}`);
    const timer = setTimeout(() => {
      this.respawns.delete(timer);
      if (this.state === 'starting' || this.state === 'serving') this.spawn();
    }, delay);
    this.respawns.add(timer);
  }

  /** A worker asked to be replaced: start its successor first, then drain it. */
  private recycle(old: WorkerProcess, reason: string): void {
    if (this.state !== 'serving' || this.retired.has(old) || old.state !== 'ready') return;
    this.retired.add(old);
    this.deps.log.info(`replacing worker ${old.pid} (generation ${this.id}): ${reason}`);
    const next = this.spawn();
    const done = () => old.drain(this.deps.gracefulTimeoutMs, `recycled: ${reason}`);
    next.once('ready', done);
    next.once('exit', () => {
      if (next.state !== 'ready' && old.state === 'ready') done();
    });
  }

  private failStart(message: string, output: string): void {
    if (!this.waiter) return;
    const { reject } = this.waiter;
    this.waiter = null;
    reject(new StartFailure(message, output));
  }

  private outputs(): string {
    return [...this.workers].map((w) => w.output.text()).find((t) => t.trim() !== '') ?? '';
  }

  private cancelRespawns(): void {
    for (const t of this.respawns) clearTimeout(t);
    this.respawns.clear();
  }
}

export function describeExit(w: WorkerProcess): string {
  if (w.spawnError) return `could not be started: ${w.spawnError}`;
  const how =
    w.endedBy === 'heartbeat timeout' ? 'was killed after its heartbeat stopped'
    : w.endedBy === 'upgrade timeout' ? 'was killed: not ready within the upgrade timeout'
    : w.exitSignal ? `was killed by ${w.exitSignal}`
    : `exited with code ${w.exitCode}`;
  // An app usually dies of a listen() that failed (a port in use): name it, not just the code.
  return w.listenError ? `${how} after failing to listen on ${w.listenError}` : how;
}
