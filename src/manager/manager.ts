import { EventEmitter } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { Deployment, Plan } from '../config/deployment.js';
import { secs } from '../durations.js';
import { codeOf, type ErrorCode } from '../protocol/error-codes.js';
import { killedWords, servingWords, type GenerationStatus, type ManagerRuntime, type ManagerState, type ReloadResult, type Serving, type Status, type UpgradeResult, type WorkerStatus, wireState } from '../protocol/status.js';
import { BalanceTable } from './balance-table.js';
import { Generation, StartFailure, type StartMode } from './generation.js';
import { processHost, type Host } from './host.js';
import type { ListenerRegistry } from './listeners.js';
import type { Logger } from './log.js';
import { batchSize, growInBatches } from './batch.js';
import { Rollout, type Incoming, type RolloutEnd } from './rollout.js';
import { judgeProbation } from './traffic-judge.js';
import type { TrafficVerdict } from './traffic-verdict.js';
import { ReleaseHistory } from './release-history.js';
import { ReloadQueue } from './reload-queue.js';
import { DropReport } from './drop-report.js';
import { incomingGeneration, outgoingGenerations, outgoingSlots } from './sides.js';
import type { WorkerExit } from '../protocol/worker-exit.js';
import { describeExit } from './worker-exit.js';
import type { WorkerSpec } from './worker-process.js';

// The long-lived manager: it owns the sockets and the generations, and has a Rollout (see
// rollout.ts) move the traffic from one generation to the next. Its PID never changes: a reload
// starts new workers, never a new manager. Only an upgrade (see upgrade/) replaces it, by a
// successor that takes over everything it holds: a rollout too, whose new side is that manager.
//
//   running ──stop()──▶ stopping ──▶ stopped
//   (and, once an upgrade's rollout has committed, handed over: a successor serves)
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
  /** Forks, signals and the clock: the process's own but in a unit test. */
  host?: Host;
}

export class Manager extends EventEmitter<ManagerEvents> {
  readonly startedAt = Date.now();
  /** Resolves once a stop has finished: every worker gone, every socket closed. */
  readonly stopped: Promise<void>;
  private lifecycle: 'running' | 'stopping' | 'stopped' = 'running';
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
  /** The rollout under way: a reload's, or an upgrade's (while one runs, reloads wait for another day). */
  private rollout: { kind: 'reload' | 'upgrade'; rollout: Rollout<unknown> } | null = null;
  private readonly reloads = new ReloadQueue(() => this.reloadOnce());
  private progress: ((text: string) => void)[] = [];
  /** Lines dropped by the workers of generations since gone. */
  private droppedByGone = 0;
  private readonly drops: DropReport;
  /** Where the workers share how many connections each holds, made on the first generation that balances (--balanced-accept, on by default). */
  private balance: BalanceTable | undefined;

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
  async start(mode: StartMode = 'first'): Promise<void> {
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
   * An upgrade of the manager: a rollout from the serving generations to `successor` (see
   * upgrade/), which the caller runs; no reload runs meanwhile. Returns it, or why not. The
   * serving generations are kept until the commit, which the successor may fail. Its end is told
   * to handBack() (failed) or retire() (committed).
   */
  upgradeTo<Crash>(successor: Incoming<Crash>): Rollout<Crash> | { code: ErrorCode; error: string } {
    if (this.lifecycle !== 'running') return { code: 'STOPPING', error: 'hypnode is stopping' };
    if (this.upgrading) return { code: 'BUSY', error: 'an upgrade of the manager runs already' };
    if (this.reloads.busy) return { code: 'BUSY', error: 'a reload runs; upgrade once it is done' };
    if (!this.current || this.current.servingCount() === 0) return { code: 'NOT_SERVING', error: 'no generation serves: nothing to hand over' };
    const olds = outgoingGenerations(this.servingGenerations(), () => this.lifecycle === 'running');
    // Committed, every generation's workers exit: also one that a failed reload left draining.
    const outgoing = { ...olds, release: () => Promise.all([...this.generations].map((g) => g.releaseAll())).then(() => {}) };
    const rollout = new Rollout(successor, outgoing, { probationMs: this.plan.settings.probation * 1000, clock: this.host, keepUntilCommit: true });
    rollout.on('phase', () => this.emit('changed'));
    this.rollout = { kind: 'upgrade', rollout };
    this.emit('upgrade-start');
    this.emit('changed');
    return rollout;
  }

  /** The upgrade failed: this manager serves on (its rollout gave the old workers back their traffic). */
  handBack(result: UpgradeResult): void {
    this.lastUpgrade = result;
    this.rollout = null;
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

  /** A successor serves everything, and the workers have exited (the upgrade's rollout committed): so may this process. */
  retire(result: UpgradeResult): void {
    this.lastUpgrade = result;
    this.log.info(`manager ${process.pid} exits: manager ${result.ok ? result.to.pid : '?'} serves`);
    this.markStopped();
  }

  /** An upgrade committed: a successor serves, and this manager does nothing more. */
  get handedOver(): boolean {
    return this.rollout?.kind === 'upgrade' && this.rollout.rollout.phase === 'committed';
  }

  private get upgrading(): boolean {
    return this.rollout?.kind === 'upgrade';
  }

  private get host(): Host {
    return this.options.host ?? processHost;
  }

  /** Add (+1) or remove (-1) a worker of the serving generation, until the next reload. */
  resize(delta: 1 | -1): number {
    const gen = this.current;
    if (!gen || this.lifecycle !== 'running' || this.handedOver) return 0;
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
    // Handed over, the sockets and their paths are the successor's: nothing here to stop.
    if (this.handedOver) return this.stopped;
    if (this.lifecycle === 'running') {
      this.lifecycle = 'stopping';
      this.stopMode = mode;
      this.rollout?.rollout.cancel(Object.assign(new Error('hypnode is stopping'), { code: 'STOPPING' }));
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
      generations.push({ id: g.id, state: g.state, app: g.release.app, cwd: g.release.cwd, createdAt: g.createdAt, workersWanted: g.size, workersReady: g.servingCount() });
      for (const w of g.workers) {
        const { requests, connections, rss, heapUsed, loopDelay, linesDropped } = w.stats;
        workers.push({ pid: w.pid, generation: g.id, slot: w.slot, phase: w.state, state: wireState(w.state), startedAt: w.startedAt, uptimeMs: now - w.startedAt, readyAt: w.readyAt, requests, connections, rss, heapUsed, loopDelay, linesDropped, acceptsLimit: w.acceptsLimit });
      }
    }
    const cur = this.current;
    return {
      pid: process.pid,
      ...this.options.runtime,
      app: this.deployment.app,
      name: this.plan.settings.name,
      state: this.state(),
      reloading: this.reloads.busy || this.rollout !== null,
      startedAt: this.startedAt,
      generation: cur?.id ?? null,
      codeLoadedAt: cur?.createdAt ?? null,
      workersWanted: cur?.size ?? 0,
      workersReady: cur?.servingCount() ?? 0,
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
    if (this.handedOver) return 'stopped';
    if (this.lifecycle !== 'running') return this.lifecycle;
    // An upgrade's successor serves every new connection while this manager's workers drain.
    if (this.upgrading && this.rollout?.rollout.switched) return 'serving';
    if ((this.current?.servingCount() ?? 0) > 0) return 'serving';
    return this.everServed || this.current?.lastCrash ? 'failing' : 'starting';
  }

  private async end(g: Generation, mode: StopMode): Promise<void> {
    if (mode === 'fast') return g.destroy({ kind: 'fast-stop' });
    await g.stopAccepting({ kind: 'stop' }, 'exit');
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
    if (this.lifecycle !== 'running') return this.refused('STOPPING', 'hypnode is stopping');
    // Usually the current generation; after a batched reload that failed midway, two share the slots.
    const olds = this.servingGenerations();
    const killedBefore = olds.reduce((n, o) => n + o.killedDraining, 0);
    const next = this.newGeneration(plan);
    const batch = batchSize(plan.settings.reloadBatch, next.size);
    const batches = Math.ceil(next.size / batch);
    const release = next.release.app !== this.current?.release.app ? ` of ${next.release.app}` : '';
    this.say(`starting generation ${next.id}: ${next.size} workers${batches > 1 ? `, ${batch} at a time` : ''}${release}`);
    const previous = { current: this.current, plan: this.plan };
    const names = olds.map((o) => o.id).join(' and ');
    const serving = () => this.lifecycle === 'running';
    let switchAt = 0;
    const judged: { traffic: TrafficVerdict | null } = { traffic: null };
    // Without batches every new worker starts now; with them the rollout is the first batch's (see batch.ts).
    const incoming = incomingGeneration(next, {
      standBy: async () => {
        await this.standBy(next, batches > 1 ? batch : next.size, batches > 1 ? `batch 1/${batches}` : `generation ${next.id}`);
        this.say(`generation ${next.id} ready in ${secs((next.readyAt ?? Date.now()) - startedAt)}${olds.length ? `; generation ${names} ${batches > 1 ? `gives up slots 0-${batch - 1}` : 'stops accepting'}` : ''}`);
      },
      switchTo: () => {
        switchAt = Date.now();
        this.current = next;
        this.plan = plan;
        this.log.setFormat(plan.settings.logFormat);
        if (!this.everServed) this.served(next);
      },
      switchBack: () => {
        if (!olds.length || !serving()) return;
        this.current = previous.current;
        this.plan = previous.plan;
        this.log.setFormat(previous.plan.settings.logFormat);
      },
      discard: () => this.discard(next),
    });
    const outgoing = batches > 1 ? outgoingSlots(olds, 0, batch, serving) : outgoingGenerations(olds, serving);
    // After the probation, the new code's answers against the old's (see traffic-judge.ts).
    const judge = async () => {
      judged.traffic = await judgeProbation({ next, olds, canary: batches > 1, switchAt, settings: plan.settings });
      return judged.traffic?.kind === 'fail' ? judged.traffic.words : null;
    };
    const rollout = new Rollout(incoming, outgoing, { probationMs: plan.settings.probation * 1000, clock: this.host, judge });
    rollout.on('phase', (phase) => {
      if (phase === 'probation' && olds.length && batches === 1) this.say(`generation ${next.id} serves every new connection; draining generation ${names}${plan.settings.probation ? `; probation ${plan.settings.probation} s` : ''}`);
    });
    this.rollout = { kind: 'reload', rollout };
    let end: RolloutEnd<WorkerExit>;
    try {
      end = await rollout.run();
    } finally {
      this.rollout = null;
    }
    if (!end.ok) {
      const [code, error, output]: [ErrorCode, string, string] = 'refused' in end
        ? ['TRAFFIC_REFUSED', `its traffic was refused in its probation: ${end.refused}`, '']
        : ['PROBATION_FAILED', `${describeExit(end.crash)}, within its ${plan.settings.probation} s probation`, next.lastCrash?.output ?? ''];
      if (olds.length && serving()) this.say(`${error}: generation ${names} accepts again`);
      return this.failed(startedAt, next.id, code, error, output);
    }
    if (judged.traffic) this.say(`traffic: ${judged.traffic.words}`);
    const readyAt = next.readyAt ?? end.readyAt;
    let { servingAt, drainedAt } = end;
    if (batches > 1) {
      const failure = await growInBatches(next, olds, batch, (text) => this.say(text), serving);
      if (failure === 'stopped') return this.refused('STOPPING', 'hypnode is stopping');
      if (failure) return this.failed(startedAt, next.id, 'START_FAILED', failure.message, failure.output);
      servingAt = Date.now();
      const rest = outgoingGenerations(olds, serving);
      await rest.stopAccepting('exit');
      await rest.drained();
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
    return { ok: true, generation: next.id, startedAt, readyAt, servingAt, drainedAt, doneAt: Date.now(), killedDraining, ...(judged.traffic && { traffic: judged.traffic.words }) };
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
      await next.start('standby', slots);
    } catch (err) {
      await this.discard(next);
      throw err;
    } finally {
      next.off('changed', onChange);
    }
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

  /** The balance table, or null (said, and tried again on the next generation) when none can be made. */
  private balanceTable(): BalanceTable | null {
    try {
      return (this.balance ??= BalanceTable.create());
    } catch (err) {
      this.log.warn(`--balanced-accept: no table for the workers' counts (${(err as Error).message}); these workers accept unbalanced`);
      return null;
    }
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
      balance: settings.balancedAccept ? this.balanceTable() : null,
      readyTimeoutMs: settings.readyTimeout * 1000,
      heartbeatTimeoutMs: settings.heartbeatTimeout * 1000,
      gracefulTimeoutMs: settings.gracefulTimeout * 1000,
    };
    const gen = new Generation(id, settings.workers, {
      registry: this.registry, log: this.log, spec, release,
      recycleAtOnce: batchSize(settings.reloadBatch, settings.workers, 1),
      acceptsJitter: settings.acceptsJitter,
      startTries: settings.startTries,
      host: this.host,
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
    this.log.info(`generation ${gen.id} serves (${gen.servingCount()} workers, manager pid ${process.pid})`);
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
    const others = this.servingGenerations().filter((g) => g !== cur).map((g) => ({ generation: g.id, ready: g.servingCount() }));
    return { generation: cur.id, ready: cur.servingCount(), wanted: cur.size, ...(others.length ? { others } : {}) };
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
