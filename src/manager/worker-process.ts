import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isWorkerMessage, listenKeyId, WORKER_CONFIG_ENV, type WorkerConfig, type WorkerStats } from '../worker/messages.js';
import type { ListenerRegistry } from './listeners.js';
import type { Logger } from './log.js';
import { OutputTail } from './output-tail.js';

// One worker process as the manager sees it: its IPC, its output, its sockets and its state.

const PRELOAD = pathToFileURL(fileURLToPath(new URL('../worker/preload.js', import.meta.url))).href;

export type WorkerState = 'starting' | 'ready' | 'draining' | 'exited';

export interface WorkerSpec {
  appPath: string;
  args: string[];
  nodeArgs: string[];
  env: Record<string, string>;
  cwd: string;
  config: WorkerConfig;
}

export interface WorkerEvents {
  ready: [];
  'stopped-accepting': [];
  recycle: [reason: string];
  exit: [code: number | null, signal: NodeJS.Signals | null];
}

export class WorkerProcess extends EventEmitter<WorkerEvents> {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly generation: number;
  readonly startedAt = Date.now();
  readonly output = new OutputTail();
  readonly listens = new Set<string>();
  state: WorkerState = 'starting';
  readyAt: number | null = null;
  lastBeat = Date.now();
  stats: WorkerStats = { rss: 0, heapUsed: 0, requests: 0, connections: 0, accepted: 0 };
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  /** Why the manager ended this worker, if it did: an exit then is no crash. */
  endedBy: string | null = null;
  /** Why the process could not be started at all (then `pid` is 0). */
  spawnError: string | null = null;
  /** The last listen() the manager could not serve, e.g. `tcp:*:3000: address already in use`. */
  listenError: string | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  private readonly exited: Promise<void>;

  constructor(spec: WorkerSpec, registry: ListenerRegistry, private readonly log: Logger) {
    super();
    this.generation = spec.config.generation;
    this.child = fork(spec.appPath, spec.args, {
      cwd: spec.cwd,
      execArgv: [...spec.nodeArgs, '--import', PRELOAD],
      env: { ...process.env, ...spec.env, [WORKER_CONFIG_ENV]: JSON.stringify(spec.config) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Not `detached`: a session of its own would cost throughput (the worker leaves the
      // terminal's process group itself instead, see leaveForegroundGroup in the preload).
      serialization: 'json',
    });
    // Out of file descriptors or processes, the fork fails: no pid, then an 'error' and no 'exit'.
    // Such a worker counts as one that exited at once, so that its generation retries with backoff
    // (or fails the reload) instead of the manager dying of an unhandled error.
    this.pid = this.child.pid ?? 0;
    const { stdout, stderr } = this.child;
    if (stdout) this.output.follow(stdout, (line) => log.worker(this.generation, this.pid, 'stdout', line));
    if (stderr) this.output.follow(stderr, (line) => log.worker(this.generation, this.pid, 'stderr', line));
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null, signal: NodeJS.Signals | null) => {
        this.state = 'exited';
        this.exitCode = code;
        this.exitSignal = signal;
        if (this.killTimer) clearTimeout(this.killTimer);
        this.emit('exit', code, signal);
        resolve();
      };
      this.child.once('exit', ended);
      this.child.on('error', (err) => {
        if (this.pid !== 0) return log.warn(`worker ${this.pid}: ${err.message}`);
        this.spawnError = err.message;
        ended(null, null);
      });
    });
    this.child.on('message', (msg: unknown, handle: unknown) => this.onMessage(msg, handle, registry, spec.config.waitReady));
  }

  private onMessage(msg: unknown, _handle: unknown, registry: ListenerRegistry, waitReady: boolean): void {
    if (msg === 'ready' && waitReady) return this.markReady();
    if (!isWorkerMessage(msg)) return;
    switch (msg.hypnode) {
      case 'listen':
        void registry.acquire(msg.key).then((got) => {
          if (!this.child.connected) return;
          if ('error' in got) {
            this.listenError = `${listenKeyId(msg.key)} (${got.error.code}: ${got.error.message})`;
            this.log.warn(`worker ${this.pid} (generation ${this.generation}) cannot listen on ${this.listenError}`);
            return this.child.send({ hypnode: 'listen-reply', id: msg.id, error: got.error });
          }
          this.listens.add(got.id);
          this.child.send({ hypnode: 'listen-reply', id: msg.id, error: null }, got.handle as never);
        });
        return;
      case 'ready':
        if (!waitReady) this.markReady();
        return;
      case 'heartbeat':
        this.lastBeat = Date.now();
        this.stats = msg.stats;
        return;
      case 'stopped-accepting':
        this.emit('stopped-accepting');
        return;
      case 'recycle':
        this.emit('recycle', msg.reason);
        return;
    }
  }

  private markReady(): void {
    if (this.state !== 'starting') return;
    this.state = 'ready';
    this.readyAt = Date.now();
    this.lastBeat = Date.now();
    this.emit('ready');
  }

  /** Ask the worker to stop accepting and finish its requests; kill it after `graceMs`. */
  drain(graceMs: number, reason: string): void {
    if (this.state === 'exited' || this.state === 'draining') return;
    this.endedBy ??= reason;
    this.state = 'draining';
    if (this.child.connected) this.child.send({ hypnode: 'drain' });
    else this.kill('SIGTERM', reason);
    this.killTimer = setTimeout(() => {
      this.log.warn(`worker ${this.pid} (generation ${this.generation}) still busy ${graceMs / 1000}s into its drain (graceful timeout): killing it`);
      this.kill('SIGKILL', `${reason}: graceful timeout`);
    }, graceMs);
  }

  kill(signal: NodeJS.Signals, reason: string): void {
    // pid 0 (a fork that failed) would signal the manager's own process group.
    if (this.state === 'exited' || this.pid === 0) return;
    this.endedBy ??= reason;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone: the exit event follows.
    }
  }

  waitExit(): Promise<void> {
    return this.exited;
  }
}
