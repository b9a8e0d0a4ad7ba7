import { EventEmitter } from 'node:events';
import { resolveSettings, type SettingSources } from '../config/resolve.js';
import type { Settings } from '../config/settings.js';
import { checkAppFile } from '../config/app-file.js';
import type { WorkerConfig } from '../worker/messages.js';
import { Generation, StartFailure } from './generation.js';
import type { ListenerRegistry } from './listeners.js';
import type { Logger } from './log.js';
import { ReloadQueue } from './reload-queue.js';
import type { WorkerSpec } from './worker-process.js';

// The long-lived manager: it owns the sockets and the generations, and moves traffic from one
// generation to the next. Its PID never changes: a reload starts new workers, never a new manager.

/** A keep-alive connection idle this long while its worker drains is closed (see worker/drain). */
const IDLE_CLOSE_AFTER_MS = 1000;

export type ReloadResult =
  | {
      ok: true;
      generation: number;
      /** When the reload started, all new workers were ready, the old stopped accepting, and had exited. */
      startedAt: number;
      readyAt: number;
      servingAt: number;
      drainedAt: number;
    }
  | { ok: false; generation: number; startedAt: number; error: string; output: string };

export type ManagerState = 'starting' | 'serving' | 'stopping' | 'stopped';

export interface ManagerEvents {
  /** The first generation serves: the moment to tell systemd READY=1. */
  serving: [generation: number];
  'reload-start': [];
  'reload-end': [result: ReloadResult];
  stopping: [];
  /** Something a status line shows has changed. */
  changed: [];
}

export interface WorkerStatus {
  pid: number;
  generation: number;
  state: string;
  startedAt: number;
  uptimeMs: number;
  requests: number;
  connections: number;
  rss: number;
}

export interface Status {
  pid: number;
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
  lastReload: ReloadResult | null;
  lastCrash: { at: number; message: string; output: string } | null;
}

export class Manager extends EventEmitter<ManagerEvents> {
  state: ManagerState = 'starting';
  readonly startedAt = Date.now();
  private current: Generation | null = null;
  private readonly generations = new Set<Generation>();
  private nextGeneration = 1;
  private lastReload: ReloadResult | null = null;
  private readonly reloads = new ReloadQueue(() => this.reloadOnce());
  private stopping: Promise<void> | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private progress: ((text: string) => void)[] = [];

  constructor(
    readonly appPath: string,
    private settings: Settings,
    private readonly sources: SettingSources,
    private readonly registry: ListenerRegistry,
    private readonly log: Logger,
  ) {
    super();
    log.setFormat(settings.logFormat);
  }

  /** Starts the first generation; resolves once it serves. Crashing workers are retried with backoff. */
  async start(): Promise<void> {
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      for (const g of this.generations) g.checkHeartbeats(now, this.settings.heartbeatTimeout * 1000);
    }, this.settings.heartbeatInterval * 1000);
    this.heartbeatTimer.unref();
    const first = this.newGeneration(this.settings);
    this.current = first;
    this.log.info(`starting generation ${first.id}: ${first.size} workers of ${this.appPath}`);
    await first.start(false, null);
    if (this.current !== first) return; // a reload or a stop overtook the first start
    this.becomeServing(first);
  }

  reload(onProgress?: (text: string) => void): Promise<ReloadResult> {
    if (this.stopping) return Promise.resolve(this.refused('hypnode is stopping'));
    if (onProgress) this.progress.push(onProgress);
    const result = this.reloads.request();
    if (onProgress) void result.finally(() => (this.progress = this.progress.filter((p) => p !== onProgress)));
    return result;
  }

  /** Add (+1) or remove (-1) a worker of the serving generation, until the next reload. */
  resize(delta: 1 | -1): number {
    const gen = this.current;
    if (!gen || this.stopping) return 0;
    const size = Math.max(1, gen.size + delta);
    gen.resize(size);
    this.log.info(`generation ${gen.id} now has ${size} workers`);
    return size;
  }

  /** Graceful: every worker drains (killed after the graceful timeout). Fast: every worker is killed. */
  stop(fast: boolean): Promise<void> {
    if (this.stopping) {
      if (fast) for (const g of this.generations) void g.destroy('fast stop');
      return this.stopping;
    }
    this.state = 'stopping';
    this.emit('stopping');
    this.log.info(fast ? 'stopping now: killing every worker' : 'stopping: draining every worker');
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.stopping = (async () => {
      await Promise.all([...this.generations].map((g) => (fast ? g.destroy('fast stop') : g.stopAccepting().then(() => g.drained()))));
      this.registry.closeAll();
      this.state = 'stopped';
      this.log.info('stopped');
    })();
    return this.stopping;
  }

  status(): Status {
    const workers: WorkerStatus[] = [];
    const now = Date.now();
    for (const g of this.generations) {
      for (const w of g.workers) {
        workers.push({
          pid: w.pid,
          generation: g.id,
          state: w.state,
          startedAt: w.startedAt,
          uptimeMs: now - w.startedAt,
          requests: w.stats.requests,
          connections: w.stats.connections,
          rss: w.stats.rss,
        });
      }
    }
    const cur = this.current;
    return {
      pid: process.pid,
      app: this.appPath,
      name: this.settings.name,
      state: this.state,
      reloading: this.reloads.busy,
      startedAt: this.startedAt,
      generation: cur?.id ?? null,
      codeLoadedAt: cur?.createdAt ?? null,
      workersWanted: cur?.size ?? 0,
      workersReady: cur?.readyCount() ?? 0,
      workers,
      lastReload: this.lastReload,
      lastCrash: cur?.lastCrash ?? null,
    };
  }

  private async reloadOnce(): Promise<ReloadResult> {
    const startedAt = Date.now();
    const generation = this.nextGeneration;
    this.emit('reload-start');
    const result = await this.replaceGeneration(startedAt).catch(
      (err: Error): ReloadResult => ({ ok: false, generation, startedAt, error: err.message, output: err instanceof StartFailure ? err.output : '' }),
    );
    this.lastReload = result;
    if (result.ok) {
      this.say(`done: generation ${result.generation} serves everything, the old drained, in ${secs(result.drainedAt - startedAt)}`);
    } else {
      this.log.error(`reload failed: ${result.error}; the old generation keeps serving`);
    }
    this.emit('reload-end', result);
    this.emit('changed');
    return result;
  }

  private async replaceGeneration(startedAt: number): Promise<ReloadResult> {
    if (this.stopping) return this.refused('hypnode is stopping');
    // The code and the config file are read afresh; flags and environment are those of `start`.
    const { settings } = await resolveSettings(this.sources);
    checkAppFile(this.appPath);
    const next = this.newGeneration(settings);
    this.say(`starting generation ${next.id}: ${next.size} workers`);
    let shown = -1;
    const onChange = () => {
      const ready = next.readyCount();
      if (next.state !== 'starting' || ready === shown) return;
      shown = ready;
      this.say(`generation ${next.id}: ${ready}/${next.size} ready`);
    };
    next.on('changed', onChange);
    try {
      await next.start(true, settings.upgradeTimeout * 1000);
    } catch (err) {
      await next.destroy('its generation failed to start');
      this.generations.delete(next);
      this.prune();
      throw err;
    } finally {
      next.off('changed', onChange);
    }
    if (this.stopping) return this.refused('hypnode is stopping');
    const readyAt = next.readyAt ?? Date.now();
    const old = this.current;
    this.current = next;
    this.settings = settings;
    this.log.setFormat(settings.logFormat);
    if (this.state === 'starting') this.becomeServing(next);
    this.say(`generation ${next.id} ready in ${secs(readyAt - startedAt)}${old ? `; generation ${old.id} stops accepting` : ''}`);
    if (old) await old.stopAccepting();
    const servingAt = Date.now();
    if (old) {
      this.say(`generation ${next.id} serves every new connection; draining generation ${old.id}`);
      await old.drained();
      this.generations.delete(old);
    }
    this.prune();
    return { ok: true, generation: next.id, startedAt, readyAt, servingAt, drainedAt: Date.now() };
  }

  private newGeneration(settings: Settings): Generation {
    const id = this.nextGeneration++;
    const config: WorkerConfig = {
      generation: id,
      heartbeatInterval: settings.heartbeatInterval,
      waitReady: settings.waitReady,
      accepts: settings.accepts,
      maxRss: settings.maxRss,
      idleCloseAfter: IDLE_CLOSE_AFTER_MS,
      managerPid: process.pid,
    };
    const spec: WorkerSpec = { appPath: this.appPath, args: settings.args, nodeArgs: settings.nodeArgs, env: settings.env, cwd: process.cwd(), config };
    const gen = new Generation(id, settings.workers, {
      registry: this.registry,
      log: this.log,
      spec,
      gracefulTimeoutMs: settings.gracefulTimeout * 1000,
      upgradeTimeoutMs: settings.upgradeTimeout * 1000,
    });
    gen.on('changed', () => this.emit('changed'));
    this.generations.add(gen);
    return gen;
  }

  private becomeServing(gen: Generation): void {
    this.state = 'serving';
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

  private refused(error: string): ReloadResult {
    return { ok: false, generation: this.current?.id ?? 0, startedAt: Date.now(), error, output: '' };
  }

  private say(text: string): void {
    this.log.info(text);
    for (const p of this.progress) p(text);
  }
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
