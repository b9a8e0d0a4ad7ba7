import { EventEmitter } from 'node:events';
import type { Deployment, Plan } from '../config/deployment.js';
import { secs } from '../durations.js';
import { servingWords, type GenerationStatus, type ManagerRuntime, type ManagerState, type ReloadResult, type Serving, type Status, type UpgradeResult, type WorkerStatus } from '../protocol/status.js';
import { Generation, StartFailure } from './generation.js';
import type { ListenerRegistry } from './listeners.js';
import type { Logger } from './log.js';
import { Probation } from './probation.js';
import { ReloadQueue } from './reload-queue.js';
import { describeExit, type WorkerExit } from './worker-exit.js';
import type { WorkerSpec } from './worker-process.js';

// The long-lived manager: it owns the sockets and the generations, and moves traffic from one
// generation to the next. Its PID never changes: a reload starts new workers, never a new manager.
// Only an upgrade (see upgrade/) replaces it, by a successor that takes over everything it holds.
//
//   running ──stop()──▶ stopping ──▶ stopped
//      └────retire()───▶ handed over (a successor serves)
//
// What `hypnode status` calls its state is read off the facts (see ManagerState), never kept
// beside them.

/** A keep-alive connection idle this long while its worker drains is closed (see worker/drain). */
const IDLE_CLOSE_AFTER_MS = 1000;
/** How often dropped worker output is said in the log, at most. */
const DROP_REPORT_MS = 10_000;

export type StopMode = 'graceful' | 'fast';

export interface ManagerEvents {
  /** The first generation serves: the moment to tell systemd READY=1. */
  serving: [generation: number];
  'reload-start': [];
  'reload-end': [result: ReloadResult];
  stopping: [];
  /** Something a status line shows has changed. */
  changed: [];
  /** A worker died without being asked to: its exit, and the last it wrote. */
  crash: [exit: WorkerExit, output: string];
  'upgrade-start': [];
  /** A failed upgrade: this manager serves on. */
  'upgrade-end': [result: UpgradeResult];
  /** Committed: the successor with this PID is the main process now (say so to systemd, then nothing more). */
  'hand-over': [pid: number];
}

export interface ManagerOptions {
  runtime: ManagerRuntime;
  /** The number of the first generation: a successor goes on from its predecessor's. */
  firstGeneration?: number;
}

export class Manager extends EventEmitter<ManagerEvents> {
  readonly startedAt = Date.now();
  /** Resolves once a stop has finished: every worker gone, every socket closed. */
  readonly stopped: Promise<void>;
  private lifecycle: 'running' | 'stopping' | 'stopped' | 'handed-over' = 'running';
  private stopMode: StopMode | null = null;
  private markStopped!: () => void;
  private current: Generation | null = null;
  private readonly generations = new Set<Generation>();
  private nextGeneration: number;
  private everServed = false;
  private lastReload: ReloadResult | null = null;
  lastUpgrade: UpgradeResult | null = null;
  /** An upgrade of the manager runs: reloads wait for another day. */
  private upgrading = false;
  private readonly reloads = new ReloadQueue(() => this.reloadOnce());
  private progress: ((text: string) => void)[] = [];
  /** Lines dropped by the workers of generations since gone. */
  private droppedByGone = 0;
  private droppedReported = 0;

  constructor(
    private readonly deployment: Deployment,
    private plan: Plan,
    private readonly registry: ListenerRegistry,
    private readonly log: Logger,
    private readonly options: ManagerOptions,
  ) {
    super();
    this.nextGeneration = options.firstGeneration ?? 1;
    this.stopped = new Promise((resolve) => (this.markStopped = resolve));
    log.setFormat(plan.settings.logFormat);
    // Workers count the lines they drop (a sink that took none): said in the log now and then.
    setInterval(() => {
      const dropped = this.linesDropped() - this.log.dropped;
      if (dropped <= this.droppedReported) return;
      this.log.warn(`${dropped - this.droppedReported} lines of worker output were dropped: the output took none (see logLinesDropped in hypnode status)`);
      this.droppedReported = dropped;
    }, DROP_REPORT_MS).unref();
  }

  get name(): string | null {
    return this.plan.settings.name;
  }

  /** The settings the serving generation was started with. */
  get settings(): Plan['settings'] {
    return this.plan.settings;
  }

  /**
   * Starts the first generation; resolves once it serves (crashing workers are retried with
   * backoff). `standby`, in a successor: resolves once every worker is ready, or throws
   * StartFailure as a reload would; goLive() then makes them accept.
   */
  async start(mode: 'first' | 'standby' = 'first'): Promise<void> {
    const first = this.newGeneration(this.plan);
    this.current = first;
    this.log.info(`starting generation ${first.id}: ${first.size} workers of ${first.release.app}`);
    if (mode === 'standby') {
      let shown = -1;
      first.on('changed', () => {
        const ready = first.workers.filter((w) => w.state === 'standby').length;
        if (ready !== shown && first.state === 'starting') this.say(`generation ${first.id}: ${(shown = ready)}/${first.size} ready`);
      });
      return first.start('reload');
    }
    await first.start('first');
    if (this.current !== first || this.lifecycle !== 'running') return; // a reload or a stop overtook it
    this.served(first);
  }

  /** A successor's generation, standing by, takes every new connection. */
  async goLive(): Promise<void> {
    const gen = this.current!;
    await gen.takeOver();
    this.served(gen);
  }

  /** Progress lines go to `onProgress` too, until the returned function is called. */
  listen(onProgress: (text: string) => void): () => void {
    this.progress.push(onProgress);
    return () => (this.progress = this.progress.filter((p) => p !== onProgress));
  }

  reload(onProgress?: (text: string) => void): Promise<ReloadResult> {
    if (this.lifecycle !== 'running') return Promise.resolve(this.refused('hypnode is stopping'));
    if (this.upgrading) return Promise.resolve(this.refused('the manager itself is being upgraded; reload once that is done'));
    const unlisten = onProgress ? this.listen(onProgress) : () => {};
    const result = this.reloads.request();
    void result.finally(unlisten);
    return result;
  }

  /**
   * For an upgrade of the manager: no reload runs meanwhile. Returns why not, or null and holds
   * off reloads until handBack() or retire().
   */
  beginUpgrade(): string | null {
    if (this.lifecycle !== 'running') return 'hypnode is stopping';
    if (this.upgrading) return 'an upgrade of the manager runs already';
    if (this.reloads.busy) return 'a reload runs; upgrade once it is done';
    if (!this.current || this.current.readyCount() === 0) return 'no generation serves: nothing to hand over';
    this.upgrading = true;
    this.emit('upgrade-start');
    this.emit('changed');
    return null;
  }

  /** The serving generation stops accepting (a successor does) and finishes its connections, kept until handBack() or retire(). */
  async stepAside(): Promise<void> {
    await this.current!.stopAccepting({ kind: 'replaced' }, true);
  }

  /** Resolves once the generation that stepped aside has finished every connection. */
  drained(): Promise<void> {
    return this.current!.drained();
  }

  /** The upgrade failed: the generation that stepped aside (if it did) serves again. */
  async handBack(result: UpgradeResult): Promise<void> {
    this.lastUpgrade = result;
    const gen = this.current;
    if (gen && gen.state === 'draining' && this.lifecycle === 'running') await gen.resume();
    this.upgrading = false;
    this.emit('upgrade-end', result);
    this.emit('changed');
  }

  /** The number a successor's first generation takes. */
  get nextGenerationId(): number {
    return this.nextGeneration;
  }

  handOver(pid: number): void {
    this.emit('hand-over', pid);
  }

  /** A successor serves everything: the workers exit, and so may this process. */
  async retire(result: UpgradeResult): Promise<void> {
    this.lastUpgrade = result;
    this.lifecycle = 'handed-over';
    await Promise.all([...this.generations].map((g) => g.releaseAll()));
    this.log.info(`manager ${process.pid} exits: manager ${result.ok ? result.to.pid : '?'} serves`);
    this.markStopped();
  }

  get handedOver(): boolean {
    return this.lifecycle === 'handed-over';
  }

  /** Add (+1) or remove (-1) a worker of the serving generation, until the next reload. */
  resize(delta: 1 | -1): number {
    const gen = this.current;
    if (!gen || this.lifecycle !== 'running') return 0;
    const size = Math.max(1, gen.size + delta);
    gen.resize(size);
    this.log.info(`generation ${gen.id} now has ${size} workers`);
    return size;
  }

  /**
   * Graceful: every worker drains (killed after the graceful timeout). Fast: every worker is
   * killed. One stop: asked again, it is the same stop (a fast one overtaking a graceful one).
   */
  stop(mode: StopMode): Promise<void> {
    if (this.lifecycle === 'running') {
      this.lifecycle = 'stopping';
      this.stopMode = mode;
      this.emit('stopping');
      this.emit('changed');
      this.log.info(mode === 'fast' ? 'stopping now: killing every worker' : 'stopping: draining every worker');
      void Promise.all([...this.generations].map((g) => this.end(g, mode))).then(() => {
        this.registry.closeAll();
        this.lifecycle = 'stopped';
        this.log.info('stopped');
        this.markStopped();
      });
    } else if (mode === 'fast' && this.stopMode === 'graceful') {
      this.stopMode = 'fast';
      this.log.info('stopping now: killing every worker');
      for (const g of this.generations) void g.destroy({ kind: 'fast-stop' });
    }
    return this.stopped;
  }

  /** Every worker process alive (not yet reaped), of every generation. */
  workerPids(): Set<number> {
    return new Set([...this.generations].flatMap((g) => g.workers.map((w) => w.pid)));
  }

  /** Whether a generation ever served: a stop before that is a failed start. */
  get hasServed(): boolean {
    return this.everServed;
  }

  status(): Status {
    const now = Date.now();
    const workers: WorkerStatus[] = [];
    const generations: GenerationStatus[] = [];
    for (const g of this.generations) {
      generations.push({ id: g.id, state: g.state, app: g.release.app, cwd: g.release.cwd, createdAt: g.createdAt, workersWanted: g.size, workersReady: g.readyCount() });
      for (const w of g.workers) {
        const { requests, connections, rss, heapUsed } = w.stats;
        workers.push({ pid: w.pid, generation: g.id, slot: w.slot, state: w.state, startedAt: w.startedAt, uptimeMs: now - w.startedAt, readyAt: w.readyAt, requests, connections, rss, heapUsed });
      }
    }
    const cur = this.current;
    return {
      pid: process.pid,
      ...this.options.runtime,
      app: this.deployment.app,
      name: this.plan.settings.name,
      state: this.state(),
      reloading: this.reloads.busy || this.upgrading,
      startedAt: this.startedAt,
      generation: cur?.id ?? null,
      codeLoadedAt: cur?.createdAt ?? null,
      workersWanted: cur?.size ?? 0,
      workersReady: cur?.readyCount() ?? 0,
      workers,
      generations,
      lastReload: this.lastReload,
      lastUpgrade: this.lastUpgrade,
      lastCrash: cur?.lastCrash ?? null,
      logLinesDropped: this.linesDropped(),
    };
  }

  /** Opens --log-file again by its name, here and in every worker; the files reopened. */
  reopenLogs(): string[] {
    for (const g of this.generations) g.reopenOutput();
    return this.log.reopen();
  }

  /** Lines of output dropped because the output took none: the manager's and every worker's. */
  private linesDropped(): number {
    return this.log.dropped + this.droppedByGone + [...this.generations].reduce((n, g) => n + g.linesDropped(), 0);
  }

  private state(): ManagerState {
    if (this.lifecycle === 'handed-over') return 'stopped';
    if (this.lifecycle !== 'running') return this.lifecycle;
    if ((this.current?.readyCount() ?? 0) > 0) return 'serving';
    return this.everServed || this.current?.lastCrash ? 'failing' : 'starting';
  }

  private async end(g: Generation, mode: StopMode): Promise<void> {
    if (mode === 'fast') return g.destroy({ kind: 'fast-stop' });
    await g.stopAccepting({ kind: 'stop' }, false);
    await g.drained();
  }

  private async reloadOnce(): Promise<ReloadResult> {
    const startedAt = Date.now();
    this.emit('reload-start');
    const result = await this.replace(startedAt).catch((err: Error) => this.failed(startedAt, null, err.message, err instanceof StartFailure ? err.output : ''));
    this.lastReload = result;
    if (result.ok) {
      this.say(`done: generation ${result.generation} serves everything, the old drained, in ${secs(result.doneAt - startedAt)}`);
    } else {
      this.log.error(`reload failed: ${result.error}; ${servingWords(result.serving)}`);
    }
    this.emit('reload-end', result);
    this.emit('changed');
    return result;
  }

  private async replace(startedAt: number): Promise<ReloadResult> {
    if (this.lifecycle !== 'running') return this.refused('hypnode is stopping');
    const plan = await this.deployment.next();
    const next = this.newGeneration(plan);
    this.say(`starting generation ${next.id}: ${next.size} workers${next.release.app !== this.current?.release.app ? ` of ${next.release.app}` : ''}`);
    let shown = -1;
    const onChange = () => {
      const ready = next.workers.filter((w) => w.state === 'standby').length;
      if (ready === shown) return;
      shown = ready;
      this.say(`generation ${next.id}: ${ready}/${next.size} ready`);
    };
    next.on('changed', onChange);
    try {
      await next.start('reload');
    } catch (err) {
      await this.discard(next);
      throw err;
    } finally {
      next.off('changed', onChange);
    }
    if (this.lifecycle !== 'running') return this.refused('hypnode is stopping');
    const readyAt = next.readyAt ?? Date.now();
    const probation = new Probation(next, plan.settings.probation * 1000);
    const old = this.current;
    const previousPlan = this.plan;
    this.say(`generation ${next.id} ready in ${secs(readyAt - startedAt)}${old ? `; generation ${old.id} stops accepting` : ''}`);
    await next.takeOver();
    this.current = next;
    this.plan = plan;
    this.log.setFormat(plan.settings.logFormat);
    if (!this.everServed) this.served(next);
    if (old) await old.stopAccepting({ kind: 'replaced' }, probation.lasts);
    const servingAt = Date.now();
    if (old) this.say(`generation ${next.id} serves every new connection; draining generation ${old.id}`);
    let drainedAt = servingAt;
    const drained = old ? old.drained().then(() => void (drainedAt = Date.now())) : Promise.resolve();
    const death = await probation.verdict(drained);
    if (death) return this.rollBack(next, old, previousPlan, startedAt, death, plan.settings.probation);
    if (old) {
      await old.releaseAll();
      this.forget(old);
    }
    this.prune();
    return { ok: true, generation: next.id, startedAt, readyAt, servingAt, drainedAt, doneAt: Date.now() };
  }

  /** A new worker died in its probation: the old generation serves again, the new one goes. */
  private async rollBack(next: Generation, old: Generation | null, previousPlan: Plan, startedAt: number, death: WorkerExit, probationSecs: number): Promise<ReloadResult> {
    const error = `${describeExit(death)}, within its ${probationSecs} s probation`;
    if (old && this.lifecycle === 'running') {
      this.say(`${error}: generation ${old.id} accepts again`);
      await old.resume();
      this.current = old;
      this.plan = previousPlan;
      this.log.setFormat(previousPlan.settings.logFormat);
    }
    await next.stopAccepting({ kind: 'replaced' }, false);
    void next.drained().then(() => this.discard(next));
    return this.failed(startedAt, next.id, error, next.lastCrash?.output ?? '');
  }

  private async discard(g: Generation): Promise<void> {
    await g.destroy({ kind: 'superseded' });
    this.forget(g);
    this.prune();
  }

  private forget(g: Generation): void {
    this.droppedByGone += g.linesDropped();
    this.generations.delete(g);
  }

  private newGeneration(plan: Plan): Generation {
    const { settings, release, env } = plan;
    const id = this.nextGeneration++;
    const output = this.log.direct(settings.logFormat);
    const spec: WorkerSpec = {
      app: release.app,
      cwd: release.cwd,
      args: settings.args,
      nodeArgs: settings.nodeArgs,
      env,
      config: {
        generation: id,
        heartbeatInterval: settings.heartbeatInterval,
        waitReady: settings.waitReady,
        readyPath: settings.readyPath === 'off' ? null : settings.readyPath,
        accepts: settings.accepts,
        maxRss: settings.maxRss,
        idleCloseAfter: IDLE_CLOSE_AFTER_MS,
        managerPid: process.pid,
        output: output?.config ?? null,
      },
      outputFds: output?.fds ?? [],
      upgradeTimeoutMs: settings.upgradeTimeout * 1000,
      heartbeatTimeoutMs: settings.heartbeatTimeout * 1000,
      gracefulTimeoutMs: settings.gracefulTimeout * 1000,
    };
    const gen = new Generation(id, settings.workers, { registry: this.registry, log: this.log, spec, release });
    gen.on('changed', () => this.emit('changed'));
    gen.on('crash', (exit) => this.emit('crash', exit, gen.lastCrash?.output ?? ''));
    this.generations.add(gen);
    return gen;
  }

  private served(gen: Generation): void {
    this.everServed = true;
    this.log.info(`generation ${gen.id} serves (${gen.readyCount()} workers, manager pid ${process.pid})`);
    this.emit('serving', gen.id);
    this.emit('changed');
  }

  /** Closes sockets that no generation listens on any more. */
  private prune(): void {
    const inUse = new Set<string>();
    for (const g of this.generations) for (const id of g.listenIds()) inUse.add(id);
    this.registry.prune(inUse);
  }

  private serving(): Serving | null {
    const cur = this.current;
    return cur ? { generation: cur.id, ready: cur.readyCount(), wanted: cur.size } : null;
  }

  private failed(startedAt: number, attempted: number | null, error: string, output: string): ReloadResult {
    return { ok: false, generation: this.current?.id ?? 0, attempted, startedAt, error, output, serving: this.serving() };
  }

  private refused(error: string): ReloadResult {
    return this.failed(Date.now(), null, error, '');
  }

  private say(text: string): void {
    this.log.info(text);
    for (const p of this.progress) p(text);
  }
}
