import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Deployment, Plan } from '../config/deployment.js';
import { secs } from '../durations.js';
import { codeOf, type ErrorCode } from '../protocol/error-codes.js';
import { killedWords, servingWords, type GenerationStatus, type ManagerRuntime, type ManagerState, type ReloadResult, type Serving, type Status, type UpgradeResult, type WorkerStatus } from '../protocol/status.js';
import { Generation, StartFailure } from './generation.js';
import type { ListenerRegistry } from './listeners.js';
import type { Logger } from './log.js';
import { batchSize } from './batch.js';
import { Probation } from './probation.js';
import { judgeProbation } from './traffic-judge.js';
import { ReleaseHistory } from './release-history.js';
import { ReloadQueue } from './reload-queue.js';
import { DropReport } from './drop-report.js';
import type { WorkerExit } from '../protocol/worker-exit.js';
import { describeExit } from './worker-exit.js';
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
/** The lines of the app's last output a start that gave up says in the log. */
const LAST_WORDS_LINES = 10;

export type StopMode = 'graceful' | 'fast';

export interface ManagerEvents {
  /** The first generation serves: the moment to tell systemd READY=1. */
  serving: [generation: number];
  /** The first start gave up (--start-tries): a stop follows. The app's last output is in `failure`. */
  'start-failed': [failure: StartFailure];
  'reload-start': [];
  'reload-end': [result: ReloadResult];
  stopping: [];
  /** Something a status line shows has changed. */
  changed: [];
  /** A worker died without being asked to: its exit, and the last it wrote. */
  crash: [exit: WorkerExit, output: string];
  /** Any worker ended, crashed or retired (see WorkerExit.endedBy); what its app's metrics held last, if it said. */
  'worker-exit': [exit: WorkerExit, finalMetrics: unknown[] | null];
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
  /** Cuts a --stop-delay short (a fast stop overtaking a graceful one). */
  private stopDelay: AbortController | null = null;
  private markStopped!: () => void;
  private current: Generation | null = null;
  private readonly generations = new Set<Generation>();
  private readonly discarded = new WeakMap<Generation, Promise<void>>();
  private nextGeneration: number;
  private everServed = false;
  private lastReload: ReloadResult | null = null;
  /** The releases that served: what a rollback goes back to. */
  private readonly releases = new ReleaseHistory();
  lastUpgrade: UpgradeResult | null = null;
  /** An upgrade of the manager runs: reloads wait for another day. */
  private upgrading = false;
  /** The generations that stopped accepting for a successor manager. */
  private steppedAside: Generation[] = [];
  private readonly reloads = new ReloadQueue(() => this.reloadOnce());
  private progress: ((text: string) => void)[] = [];
  /** Lines dropped by the workers of generations since gone. */
  private droppedByGone = 0;
  private readonly drops: DropReport;

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
    this.drops = new DropReport(log, () => ({ total: this.linesDropped(), workers: new Map([...this.generations].flatMap((g) => g.workers.map((w) => [`g${g.id} ${w.pid}`, w.stats.linesDropped] as const))) }));
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
   * backoff), or once a reload or a stop overtook it. Throws StartFailure if it gave up
   * (--start-tries): the manager then stops. `standby`, in a successor: resolves once every
   * worker is ready, or throws StartFailure as a reload would; goLive() then makes them accept.
   */
  async start(mode: 'first' | 'standby' = 'first'): Promise<void> {
    const first = this.newGeneration(this.plan);
    this.current = first;
    this.log.info(`starting generation ${first.id}: ${first.size} workers of ${first.release.app}`);
    if (mode === 'standby') return this.standBy(first, first.size, `generation ${first.id}`);
    const overtaken = () => this.current !== first || this.lifecycle !== 'running';
    try {
      await first.start('first');
    } catch (err) {
      if (!(err instanceof StartFailure)) throw err;
      if (overtaken()) return;
      this.log.error(`the app cannot start: ${err.message}; stopping${lastWords(err.output)}`);
      this.emit('start-failed', err);
      await this.stop('fast');
      throw err;
    }
    if (overtaken()) return;
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
    if (this.lifecycle !== 'running') return Promise.resolve(this.refused('STOPPING', 'hypnode is stopping'));
    if (this.upgrading) return Promise.resolve(this.refused('UPGRADING', 'the manager itself is being upgraded; reload once that is done'));
    const unlisten = onProgress ? this.listen(onProgress) : () => {};
    const result = this.reloads.request();
    void result.finally(unlisten);
    return result;
  }

  /** Deploys the release that served before the current one, as it was deployed then, by a reload with all its checks. */
  rollback(onProgress?: (text: string) => void): Promise<ReloadResult> {
    // Refused as a reload would be (stopping, upgrading) before the release before is asked for.
    if (this.lifecycle !== 'running' || this.upgrading) return this.reload(onProgress);
    if (this.reloads.busy) return Promise.resolve(this.refused('BUSY', 'a reload runs; roll back once it is done'));
    if (!this.releases.rollBack()) return Promise.resolve(this.refused('NO_PREVIOUS_RELEASE', 'no release served before the current one since this manager started'));
    return this.reload(onProgress);
  }

  /**
   * For an upgrade of the manager: no reload runs meanwhile. Returns why not, or null and holds
   * off reloads until handBack() or retire().
   */
  beginUpgrade(): { code: ErrorCode; error: string } | null {
    if (this.lifecycle !== 'running') return { code: 'STOPPING', error: 'hypnode is stopping' };
    if (this.upgrading) return { code: 'BUSY', error: 'an upgrade of the manager runs already' };
    if (this.reloads.busy) return { code: 'BUSY', error: 'a reload runs; upgrade once it is done' };
    if (!this.current || this.current.readyCount() === 0) return { code: 'NOT_SERVING', error: 'no generation serves: nothing to hand over' };
    this.upgrading = true;
    this.emit('upgrade-start');
    this.emit('changed');
    return null;
  }

  /** The serving generations stop accepting (a successor does) and finish their connections, kept until handBack() or retire(). */
  async stepAside(): Promise<void> {
    this.steppedAside = this.servingGenerations();
    for (const g of this.steppedAside) await g.stopAccepting({ kind: 'replaced' }, true);
  }

  /** Resolves once the generations that stepped aside have finished every connection. */
  async drained(): Promise<void> {
    await Promise.all(this.steppedAside.map((g) => g.drained()));
  }

  /** The upgrade failed: the generation that stepped aside (if it did) serves again. */
  async handBack(result: UpgradeResult): Promise<void> {
    this.lastUpgrade = result;
    if (this.lifecycle === 'running') for (const g of this.steppedAside) if (g.state === 'draining') await g.resume();
    this.steppedAside = [];
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
      // A load balancer that checks /healthz sees the stop at once; the workers serve on meanwhile.
      const delayMs = mode === 'graceful' ? this.plan.settings.stopDelay * 1000 : 0;
      this.log.info(mode === 'fast' ? 'stopping now: killing every worker' : `stopping: ${delayMs ? `serving ${delayMs / 1000} s more (--stop-delay), then ` : ''}draining every worker`);
      this.stopDelay = new AbortController();
      void delay(delayMs, undefined, { signal: this.stopDelay.signal }).catch(() => {}).then(() => Promise.all([...this.generations].map((g) => this.end(g, this.stopMode!)))).then(() => {
        this.registry.closeAll();
        this.lifecycle = 'stopped';
        this.drops.check(true);
        this.log.info('stopped');
        this.markStopped();
      });
    } else if (mode === 'fast' && this.stopMode === 'graceful') {
      this.stopMode = 'fast';
      this.stopDelay?.abort();
      this.log.info('stopping now: killing every worker');
      for (const g of this.generations) void g.destroy({ kind: 'fast-stop' });
    }
    return this.stopped;
  }

  /** The app's metrics of every live worker (see exposeMetrics), null for one that exposes none or did not answer. */
  workerMetrics(timeoutMs: number): Promise<(unknown[] | null)[]> {
    return Promise.all([...this.generations].flatMap((g) => g.workers.map((w) => w.metrics(timeoutMs))));
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
        const { requests, connections, rss, heapUsed, loopDelay, linesDropped } = w.stats;
        workers.push({ pid: w.pid, generation: g.id, slot: w.slot, state: w.state, startedAt: w.startedAt, uptimeMs: now - w.startedAt, readyAt: w.readyAt, requests, connections, rss, heapUsed, loopDelay, linesDropped, acceptsLimit: w.acceptsLimit });
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
      releases: this.releases.list(),
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
    // An upgrade's successor serves every new connection while this manager's workers drain.
    if (this.steppedAside.length > 0) return 'serving';
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
    const result = await this.replace(startedAt).catch((err: Error) => this.failed(startedAt, null, err instanceof StartFailure ? 'START_FAILED' : codeOf(err, 'INTERNAL'), err.message, err instanceof StartFailure ? err.output : ''));
    this.lastReload = result;
    if (result.ok) {
      this.say(`done: generation ${result.generation} serves everything, ${result.killedDraining > 0 ? killedWords(result.killedDraining) : 'the old drained'}, in ${secs(result.doneAt - startedAt)}`);
    } else {
      this.log.error(`reload failed: ${result.error}; ${servingWords(result.serving)}`);
    }
    this.emit('reload-end', result);
    this.emit('changed');
    return result;
  }

  private async replace(startedAt: number): Promise<ReloadResult> {
    const rollingBack = this.releases.takePending();
    if (this.lifecycle !== 'running') return this.refused('STOPPING', 'hypnode is stopping');
    const plan = rollingBack ?? (await this.deployment.next());
    // Usually the current generation; after a batched reload that failed midway, two share the slots.
    const olds = this.servingGenerations();
    const killedBefore = olds.reduce((n, o) => n + o.killedDraining, 0);
    const next = this.newGeneration(plan);
    const batch = batchSize(plan.settings.reloadBatch, next.size);
    const batches = Math.ceil(next.size / batch);
    const release = next.release.app !== this.current?.release.app ? ` of ${next.release.app}` : '';
    this.say(`starting generation ${next.id}: ${next.size} workers${batches > 1 ? `, ${batch} at a time` : ''}${release}`);
    // Without batches every new worker starts now; with them the first batch is a canary, started
    // while every old worker still serves, that fails the reload exactly as a whole generation would.
    await this.standBy(next, batches > 1 ? batch : next.size, batches > 1 ? `batch 1/${batches}` : `generation ${next.id}`);
    if (this.lifecycle !== 'running') return this.refused('STOPPING', 'hypnode is stopping');
    const readyAt = next.readyAt ?? Date.now();
    const probation = new Probation(next, plan.settings.probation * 1000);
    const previous = { current: this.current, plan: this.plan, yields: olds.map((o) => o.yieldCount) };
    const names = olds.map((o) => o.id).join(' and ');
    this.say(`generation ${next.id} ready in ${secs(readyAt - startedAt)}${olds.length ? `; generation ${names} ${batches > 1 ? `gives up slots 0-${batch - 1}` : 'stops accepting'}` : ''}`);
    await next.takeOver();
    const switchAt = Date.now();
    this.current = next;
    this.plan = plan;
    this.log.setFormat(plan.settings.logFormat);
    if (!this.everServed) this.served(next);
    // The old workers of the canary's slots (all of them, without batches) drain, kept for the probation.
    const leaving = batches > 1 ? Promise.all(olds.map((o) => o.yieldSlots(0, batch, probation.lasts))).then((ws) => ws.flat()) : null;
    if (!leaving) for (const o of olds) await o.stopAccepting({ kind: 'replaced' }, probation.lasts);
    let servingAt = Date.now();
    if (olds.length && !leaving) this.say(`generation ${next.id} serves every new connection; draining generation ${names}${plan.settings.probation ? `; probation ${plan.settings.probation} s` : ''}`);
    let drainedAt = servingAt;
    const drained = (leaving ? leaving.then(() => {}) : Promise.all(olds.map((o) => o.drained()))).then(() => void (drainedAt = Date.now()));
    const death = await probation.verdict(drained);
    if (death) return this.rollBack(next, olds, previous, startedAt, 'PROBATION_FAILED', `${describeExit(death)}, within its ${plan.settings.probation} s probation`, next.lastCrash?.output ?? '');
    const traffic = await judgeProbation({ next, olds, canary: leaving !== null, switchAt, settings: plan.settings });
    if (traffic?.kind === 'fail') return this.rollBack(next, olds, previous, startedAt, 'TRAFFIC_REFUSED', `its traffic was refused in its probation: ${traffic.words}`, '');
    if (traffic) this.say(`traffic: ${traffic.words}`);
    if (leaving) {
      for (const w of await leaving) w.release();
      await Promise.all((await leaving).map((w) => w.exited));
      const failure = await this.growInBatches(next, olds, batch, batches, startedAt);
      if (failure) return failure;
      servingAt = Date.now();
      for (const o of olds) await o.stopAccepting({ kind: 'replaced' }, false);
      await Promise.all(olds.map((o) => o.drained()));
      drainedAt = Date.now();
    }
    for (const o of olds) {
      await o.releaseAll();
      this.forget(o);
    }
    // One that an earlier, failed reload left draining is gone too before this one is done.
    await Promise.all([...this.generations].filter((g) => g !== next && (g.state === 'draining' || g.state === 'done')).map(async (g) => {
      await g.drained();
      await this.discard(g);
    }));
    this.prune();
    const killedDraining = olds.reduce((n, o) => n + o.killedDraining, 0) - killedBefore;
    this.releases.served(next.id, plan);
    return { ok: true, generation: next.id, startedAt, readyAt, servingAt, drainedAt, doneAt: Date.now(), killedDraining, ...(traffic && { traffic: traffic.words }) };
  }

  /** Starts `slots` workers of `next` and waits until each stands by; a failure discards it and throws. */
  private async standBy(next: Generation, slots: number, label: string): Promise<void> {
    let shown = -1;
    const onChange = () => {
      const ready = next.workers.filter((w) => w.state === 'standby').length;
      if (ready === shown) return;
      shown = ready;
      this.say(`${label}: ${ready}/${slots} ready`);
    };
    next.on('changed', onChange);
    try {
      await next.start('reload', slots);
    } catch (err) {
      await this.discard(next);
      throw err;
    } finally {
      next.off('changed', onChange);
    }
  }

  /**
   * The batches after the canary: each starts its slots in `next` (crashes retried with backoff
   * until the ready timeout), then the old workers of those slots drain and exit, so that no more
   * than a batch more than the steady state ever runs. Returns the failed result if a batch cannot
   * serve: `next` keeps the slots it has, the old generations the others.
   */
  private async growInBatches(next: Generation, olds: Generation[], batch: number, batches: number, startedAt: number): Promise<ReloadResult | null> {
    for (let i = 1; i < batches; i++) {
      if (this.lifecycle !== 'running') return this.refused('STOPPING', 'hypnode is stopping');
      const from = i * batch;
      const to = Math.min(from + batch, next.size);
      this.say(`batch ${i + 1}/${batches}: starting slots ${from}-${to - 1}`);
      try {
        await next.grow(to);
      } catch (err) {
        if (!(err instanceof StartFailure)) throw err;
        next.shrink(from);
        return this.failed(startedAt, next.id, 'START_FAILED', err.message, err.output);
      }
      const leaving = (await Promise.all(olds.map((o) => o.yieldSlots(from, to, false)))).flat();
      await Promise.all(leaving.map((w) => w.exited));
      this.say(`batch ${i + 1}/${batches}: generation ${next.id} serves slots 0-${to - 1}`);
    }
    return null;
  }

  /** A new worker died in its probation, or its traffic was refused: the old generations serve again, the new one goes. */
  private async rollBack(next: Generation, olds: Generation[], previous: { current: Generation | null; plan: Plan; yields: number[] }, startedAt: number, code: ErrorCode, error: string, output: string): Promise<ReloadResult> {
    if (olds.length && this.lifecycle === 'running') {
      this.say(`${error}: generation ${olds.map((o) => o.id).join(' and ')} accepts again`);
      for (const [i, o] of olds.entries()) await o.resume(previous.yields[i]);
      this.current = previous.current;
      this.plan = previous.plan;
      this.log.setFormat(previous.plan.settings.logFormat);
    }
    await next.stopAccepting({ kind: 'replaced' }, false);
    void next.drained().then(() => this.discard(next));
    return this.failed(startedAt, next.id, code, error, output);
  }

  /** The generations whose workers serve (or may serve again): normally the current one alone. */
  private servingGenerations(): Generation[] {
    return [...this.generations].filter((g) => g.inService);
  }

  /** Kills what is left of `g` and forgets it: once, however often asked. */
  private discard(g: Generation): Promise<void> {
    let gone = this.discarded.get(g);
    if (!gone) {
      gone = g.destroy({ kind: 'superseded' }).then(() => {
        this.forget(g);
        this.prune();
      });
      this.discarded.set(g, gone);
    }
    return gone;
  }

  private forget(g: Generation): void {
    this.droppedByGone += g.linesDropped();
    this.generations.delete(g);
  }

  private newGeneration(plan: Plan): Generation {
    const { settings, release, env } = plan;
    const id = this.nextGeneration++;
    const output = this.log.direct(settings);
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
        // Sampling the event loop wakes every worker 50 times a second: only for --admin's metrics.
        loopDelay: settings.admin !== null,
        idleCloseAfter: IDLE_CLOSE_AFTER_MS,
        managerPid: process.pid,
        output: output?.config ?? null,
      },
      outputFds: output?.fds ?? [],
      readyTimeoutMs: settings.readyTimeout * 1000,
      heartbeatTimeoutMs: settings.heartbeatTimeout * 1000,
      gracefulTimeoutMs: settings.gracefulTimeout * 1000,
    };
    const gen = new Generation(id, settings.workers, {
      registry: this.registry, log: this.log, spec, release,
      recycleAtOnce: batchSize(settings.reloadBatch, settings.workers, 1),
      acceptsJitter: settings.acceptsJitter,
      startTries: settings.startTries,
    });
    gen.on('changed', () => this.emit('changed'));
    gen.on('crash', (exit) => this.emit('crash', exit, gen.lastCrash?.output ?? ''));
    gen.on('exit', (exit, finalMetrics) => this.emit('worker-exit', exit, finalMetrics));
    this.generations.add(gen);
    return gen;
  }

  private served(gen: Generation): void {
    this.everServed = true;
    this.releases.served(gen.id, this.plan);
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
    if (!cur) return null;
    const others = this.servingGenerations().filter((g) => g !== cur).map((g) => ({ generation: g.id, ready: g.readyCount() }));
    return { generation: cur.id, ready: cur.readyCount(), wanted: cur.size, ...(others.length ? { others } : {}) };
  }

  private failed(startedAt: number, attempted: number | null, code: ErrorCode, error: string, output: string): ReloadResult {
    return { ok: false, generation: this.current?.id ?? 0, attempted, startedAt, code, error, output, serving: this.serving() };
  }

  private refused(code: ErrorCode, error: string): ReloadResult {
    return this.failed(Date.now(), null, code, error, '');
  }

  private say(text: string): void {
    this.log.info(text);
    for (const p of this.progress) p(text);
  }
}

/** The last lines the app wrote, indented below a message (nothing if it wrote none). */
function lastWords(output: string): string {
  const lines = output.trimEnd().split('\n').slice(-LAST_WORDS_LINES);
  return lines.join('').trim() === '' ? '' : `; its last output:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}
