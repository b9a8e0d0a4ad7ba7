import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Release } from '../config/app-file.js';
import { Backoff } from './backoff.js';
import { Deadline } from './deadline.js';
import type { Cancel, Host } from './host.js';
import type { ListenerRegistry } from './listeners.js';
import type { Logger } from './log.js';
import { StartTries } from './start-tries.js';
import type { EndReason, WorkerExit } from '../protocol/worker-exit.js';
import { describeExit, wasRetired } from './worker-exit.js';
import { WorkerProcess, type OnceDrained, type WorkerSpec } from './worker-process.js';

// A generation: the workers that run one load of the app's code, one per slot (0..size-1). It
// starts them, keeps every slot filled (respawning crashed workers with backoff, replacing
// recycled ones before they go, a few at a time), and drains them when a newer generation takes
// over (see manager/rollout). In a batched reload (see manager/batch) it starts with its first slots only and grows
// batch by batch, while the older generation gives up the same slots.
//
//   starting ──▶ serving ──stopAccepting()──▶ draining ──release()/destroy()──▶ done
//                   ▲                             │
//                   └──────────resume()───────────┘

export type GenerationState = 'starting' | 'serving' | 'draining' | 'done';

/**
 * `first`: each worker accepts once ready, and crashes are retried until every slot serves (or
 * a slot's workers died before they were ready `startTries` times: the start fails).
 * `standby` (a reload, an upgrade's successor): workers wait for takeOver(), and the first that
 * fails fails the start.
 */
export type StartMode = 'first' | 'standby';

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
  release: Release;
  /** The most workers replaced at once for --accepts or --max-rss. */
  recycleAtOnce: number;
  /** Each worker adds a random 0..acceptsJitter to the accepts limit. */
  acceptsJitter: number;
  /** In `first` mode: the deaths before ready a slot may have before the start fails (0: no limit). */
  startTries: number;
  host: Host;
}

interface Waiter {
  resolve(): void;
  reject(err: StartFailure): void;
}

export class Generation extends EventEmitter<{ changed: []; crash: [exit: WorkerExit]; exit: [exit: WorkerExit, finalMetrics: unknown[] | null] }> {
  readonly createdAt: number;
  readyAt: number | null = null;
  lastCrash: { at: number; message: string; output: string } | null = null;
  /** Workers killed still busy at the graceful timeout, not drained: a reload says how many. */
  killedDraining = 0;
  private readonly live = new Set<WorkerProcess>();
  private phase: GenerationState = 'starting';
  /** Whether a worker that becomes ready starts accepting at once. */
  private accepting = false;
  private readonly respawns = new Map<number, Cancel>();
  private readonly recycling = new Set<WorkerProcess>();
  private readonly backoff = new Backoff();
  private readonly startTries: StartTries;
  private waiter: Waiter | null = null;
  private droppedByGone = 0;
  private mode: StartMode = 'first';
  /** Slots 0..active-1 are in play: all of them, but while a batched reload grows the generation. */
  private active: number;
  /** Workers that asked to be replaced while recycleAtOnce others were: their turn comes. */
  private readonly recycleQueue = new Map<WorkerProcess, string>();
  /** Slot ranges a newer generation took over (a batched reload): never filled again here. */
  private yielded: [from: number, to: number][] = [];

  get yieldCount(): number {
    return this.yielded.length;
  }

  constructor(
    readonly id: number,
    private target: number,
    private readonly deps: GenerationDeps,
  ) {
    super();
    this.createdAt = deps.host.now();
    this.active = target;
    this.startTries = new StartTries(deps.startTries);
  }

  get state(): GenerationState {
    return this.phase;
  }

  get size(): number {
    return this.target;
  }

  get release(): Release {
    return this.deps.release;
  }

  get workers(): readonly WorkerProcess[] {
    return [...this.live];
  }

  /**
   * Its workers serve, or will as soon as they are ready: serving, or the first generation still
   * starting (whose ready workers accept while crashed ones are retried). A reload must end it.
   */
  get inService(): boolean {
    return this.phase === 'serving' || (this.phase === 'starting' && this.accepting);
  }

  /** Workers that serve: ready and accepting. */
  servingCount(): number {
    return this.workers.filter((w) => w.state === 'serving').length;
  }

  /**
   * Resolves once a worker in every slot is ready (and, in `first` mode, accepting). `slots`: only
   * the first ones (a batched reload's canary); grow() starts the others.
   */
  start(mode: StartMode, slots = this.target): Promise<void> {
    this.mode = mode;
    this.active = Math.min(slots, this.target);
    this.accepting = mode === 'first';
    const started = new Promise<void>((resolve, reject) => (this.waiter = { resolve, reject }));
    if (mode === 'standby') {
      // Set before the workers' own deadlines (same length), so that it reports first.
      const timeoutMs = this.deps.spec.readyTimeoutMs;
      const timer = new Deadline(timeoutMs, () => this.failStart(`not ready within ${timeoutMs / 1000}s (${this.standbyCount()} of ${this.active} workers ready)`, this.outputs()), this.deps.host);
      void started.then(
        () => timer.cancel(),
        () => timer.cancel(),
      );
    }
    for (let slot = 0; slot < this.active; slot++) this.spawn(slot);
    return started;
  }

  /**
   * A serving generation takes slots up to `upTo` too: they accept as soon as they are ready, and
   * one that crashes is started again with backoff. Resolves once each of those slots serves;
   * throws StartFailure if they do not within the ready timeout.
   */
  async grow(upTo: number): Promise<void> {
    const from = this.active;
    this.active = Math.min(upTo, this.target);
    for (let slot = from; slot < this.active; slot++) if (!this.inSlot(slot)) this.spawn(slot);
    const serves = (slot: number) => this.workers.some((w) => w.slot === slot && w.state === 'serving');
    const all = () => Array.from({ length: this.active - from }, (_, i) => from + i).every(serves);
    const { host } = this.deps;
    const deadline = host.now() + this.deps.spec.readyTimeoutMs;
    while (!all()) {
      if (this.phase !== 'serving') throw new StartFailure(`generation ${this.id} was stopped before it was ready`, this.outputs());
      const left = deadline - host.now();
      if (left <= 0) {
        const ready = Array.from({ length: this.active - from }, (_, i) => from + i).filter(serves).length;
        throw new StartFailure(`${this.active - from - ready} of generation ${this.id}'s workers in slots ${from}-${this.active - 1} did not serve within ${this.deps.spec.readyTimeoutMs / 1000}s${this.lastCrash ? ` (last: ${this.lastCrash.message})` : ''}`, this.lastCrash?.output ?? this.outputs());
      }
      await new Promise<void>((resolve) => {
        const cancel = host.after(left, resolve);
        this.once('changed', () => {
          cancel();
          resolve();
        });
      });
    }
  }

  /** Gives up the slots from `from` on: their workers (not yet serving, or retrying) are killed. For a batched reload that failed midway. */
  shrink(from: number): void {
    this.target = this.active = from;
    this.cancelRespawns(from);
    for (const w of this.workers) if (w.slot >= from) w.kill({ kind: 'superseded' });
    this.emit('changed');
  }

  /**
   * The workers in slots [from, to) stop accepting and finish their connections (a newer
   * generation serves those slots now), then do as `then` says. Resolves once they have finished
   * (lingering) or exited.
   */
  async yieldSlots(from: number, to: number, then: OnceDrained): Promise<WorkerProcess[]> {
    const leaving = this.workers.filter((w) => w.slot >= from && w.slot < to);
    this.cancelRespawns(from, to);
    this.yielded.push([from, to]);
    await Promise.all(leaving.map((w) => w.drain(w.state === 'starting' ? { kind: 'superseded' } : { kind: 'replaced' }, then)));
    this.emit('changed');
    return leaving;
  }

  /** Every ready worker accepts (a reload's switch); resolves once they all do. */
  async takeOver(): Promise<void> {
    this.accepting = true;
    await Promise.all(this.workers.map((w) => w.accept()));
    this.emit('changed');
  }

  /**
   * Every worker stops accepting and finishes its connections (one not yet ready is killed).
   * `then`: what finished workers do (lingering, they wait for release() or resume()). Resolves
   * once none accepts.
   */
  async stopAccepting(reason: EndReason, then: OnceDrained): Promise<void> {
    this.phase = 'draining';
    this.accepting = false;
    this.cancelRespawns();
    this.failStart(`generation ${this.id} was stopped before it was ready`, this.outputs());
    await Promise.all(this.workers.map((w) => w.drain(w.state === 'starting' ? { kind: 'superseded' } : reason, then)));
    this.emit('changed');
  }

  /** Resolves once every worker has finished its connections (lingering) or exited. */
  async drained(): Promise<void> {
    const finished = () => this.workers.every((w) => w.state === 'drained' || !w.live);
    while (!finished()) await new Promise<void>((resolve) => this.once('changed', resolve));
  }

  /** Lingering workers may exit; resolves once every worker has. */
  async releaseAll(): Promise<void> {
    for (const w of this.workers) w.release();
    await this.exited();
  }

  /**
   * The generation that replaced this one failed: serve again with every worker still here, and
   * fill the slots of those the drain lost (the graceful timeout) as after a crash. `keepYields`:
   * how many of the slot ranges given up so far (yieldCount before the failed reload) stay given up.
   */
  async resume(keepYields = this.yielded.length): Promise<void> {
    this.phase = 'serving';
    this.accepting = true;
    // The slots a failed reload took are this generation's again; those an earlier one took are not.
    this.yielded = this.yielded.slice(0, keepYields);
    await Promise.all(this.workers.map((w) => w.resume()));
    for (let slot = 0; slot < this.active; slot++) if (!this.inSlot(slot)) this.spawn(slot);
    this.emit('changed');
  }

  /** Kills every worker at once (a failed start, or a fast stop); resolves once all have exited. */
  async destroy(reason: EndReason): Promise<void> {
    this.phase = 'draining';
    this.cancelRespawns();
    this.failStart(`generation ${this.id} was stopped before it was ready`, this.outputs());
    for (const w of this.workers) w.kill(reason);
    await this.exited();
  }

  /** Workers in slots 0..size-1: more are started, those in slots above drain. Until the next reload. */
  resize(size: number): void {
    const before = this.target;
    this.target = this.active = size;
    for (let slot = before; slot < size; slot++) if (!this.inSlot(slot)) this.spawn(slot);
    for (const w of this.workers) if (w.slot >= size) void w.drain({ kind: 'fewer-workers' }, 'exit');
    this.cancelRespawns(size);
    this.emit('changed');
  }

  /** Lines its workers (alive now, or since gone) dropped because the output took none. */
  linesDropped(): number {
    return this.droppedByGone + this.workers.reduce((n, w) => n + w.stats.linesDropped, 0);
  }

  reopenOutput(): void {
    for (const w of this.live) w.reopenOutput();
  }

  /** Every socket a live worker of this generation listens on. */
  listenIds(): Set<string> {
    const ids = new Set<string>();
    for (const w of this.live) for (const id of w.listens) ids.add(id);
    return ids;
  }

  private async exited(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.exited));
    this.phase = 'done';
    this.emit('changed');
  }

  private standbyCount(): number {
    return this.workers.filter((w) => w.state === 'standby' || w.state === 'serving').length;
  }

  /** A newer generation serves the slot now: it is not filled again here. */
  private isYielded(slot: number): boolean {
    return this.yielded.some(([from, to]) => slot >= from && slot < to);
  }

  /** The slot has a worker that stays (or one on its way): not one draining, dying or being replaced. */
  private inSlot(slot: number): boolean {
    return this.respawns.has(slot) || this.workers.some((w) => w.slot === slot && w.live && w.state !== 'draining' && w.state !== 'drained' && !this.recycling.has(w));
  }

  private spawn(slot: number): WorkerProcess {
    const { spec, acceptsJitter } = this.deps;
    // Workers started together must not reach --accepts together: each draws its own limit.
    const accepts = spec.config.accepts > 0 && acceptsJitter > 0 ? spec.config.accepts + randomInt(acceptsJitter + 1) : spec.config.accepts;
    const w = new WorkerProcess(accepts === spec.config.accepts ? spec : { ...spec, config: { ...spec.config, accepts } }, slot, this.deps.registry, this.deps.log, this.deps.host);
    this.live.add(w);
    w.on('changed', () => this.emit('changed'));
    w.on('standby', () => this.onReady(w));
    w.on('not-ready', (reason) => {
      if (this.phase === 'starting' && this.mode === 'standby') this.failStart(`worker ${w.pid} (generation ${this.id}) is not ready: ${reason}`, w.output.text());
    });
    w.on('exit', (exit) => this.onExit(w, exit));
    w.on('recycle', (reason) => this.recycle(w, reason));
    this.emit('changed');
    return w;
  }

  private onReady(w: WorkerProcess): void {
    if (this.accepting) void w.accept();
    if (this.phase === 'starting' && this.standbyCount() >= this.active) {
      this.phase = 'serving';
      this.readyAt = this.deps.host.now();
      const waiter = this.waiter;
      this.waiter = null;
      // In `first` mode the start is done once every slot serves, not only stands by.
      if (this.mode === 'first') void Promise.all(this.workers.map((x) => x.accept())).then(() => waiter?.resolve());
      else waiter?.resolve();
    }
  }

  private onExit(w: WorkerProcess, exit: WorkerExit): void {
    this.live.delete(w);
    this.emit('exit', exit, w.finalMetrics);
    this.droppedByGone += w.stats.linesDropped;
    if (exit.endedBy?.kind === 'graceful-timeout') this.killedDraining++;
    if (this.recycling.delete(w)) this.nextRecycle();
    this.recycleQueue.delete(w);
    this.emit('changed');
    if (wasRetired(exit) || this.phase === 'draining' || this.phase === 'done') return;
    if (this.phase === 'starting' && this.mode === 'standby') {
      this.failStart(describeExit(exit), w.output.text());
      return;
    }
    this.lastCrash = { at: exit.exitedAt, message: describeExit(exit), output: w.output.text() };
    if (this.phase === 'starting' && exit.readyAt === null && this.startTries.used(exit.slot)) {
      this.emit('crash', exit);
      this.failStart(`${describeExit(exit)}; giving up after ${this.startTries.limit} tries (--start-tries)`, this.lastCrash.output);
      return;
    }
    const delay = this.backoff.failed(exit.readyAt, this.deps.host.now());
    this.deps.log.warn(`${describeExit(exit)}; ${delay > 0 ? `starting another in ${delay} ms` : 'starting another'}`);
    this.emit('crash', exit);
    if (exit.slot >= this.active || this.isYielded(exit.slot) || this.inSlot(exit.slot)) return;
    const cancel = this.deps.host.after(delay, () => {
      this.respawns.delete(exit.slot);
      if (this.phase === 'starting' || this.phase === 'serving') this.spawn(exit.slot);
    });
    this.respawns.set(exit.slot, cancel);
  }

  /**
   * A worker asked to be replaced: start its successor in its slot first, then drain it. At most
   * recycleAtOnce at a time: workers started together reach a limit together, and replacing them
   * all at once would double the memory and leave few to serve while the successors boot.
   */
  private recycle(old: WorkerProcess, reason: string): void {
    if (this.phase !== 'serving' || this.recycling.has(old) || old.state !== 'serving') return;
    if (this.recycling.size >= this.deps.recycleAtOnce) {
      this.recycleQueue.set(old, reason);
      return;
    }
    this.recycling.add(old);
    this.deps.log.info(`replacing worker ${old.pid} (generation ${this.id}): ${reason}`);
    const next = this.spawn(old.slot);
    const retire = () => void old.drain({ kind: 'recycled', why: reason }, 'exit');
    next.once('changed', function onChange() {
      if (next.state === 'serving') retire();
      else if (next.live) next.once('changed', onChange);
      // A successor that died before it served: the old one goes anyway, and the slot is
      // respawned with backoff like any crash.
      else if (old.state === 'serving') retire();
    });
  }

  /** One replacement ended: the next worker waiting for its turn, if it still serves. */
  private nextRecycle(): void {
    for (const [w, reason] of this.recycleQueue) {
      this.recycleQueue.delete(w);
      if (w.state === 'serving') return this.recycle(w, reason);
    }
  }

  private failStart(message: string, output: string): void {
    if (!this.waiter) return;
    const { reject } = this.waiter;
    this.waiter = null;
    reject(new StartFailure(message, output));
  }

  private outputs(): string {
    return this.workers.map((w) => w.output.text()).find((t) => t.trim() !== '') ?? '';
  }

  /** The crashed workers of slots [from, to) waiting out their backoff are not started again. */
  private cancelRespawns(from = 0, to = Infinity): void {
    for (const [slot, cancel] of this.respawns) {
      if (slot < from || slot >= to) continue;
      cancel();
      this.respawns.delete(slot);
    }
  }
}
