import { EventEmitter } from 'node:events';
import type { ForkOptions } from 'node:child_process';
import type { Cancel, Clock, Host, WorkerChild } from '../../src/manager/host.js';
import type { Logger } from '../../src/manager/log.js';
import { WORKER_CONFIG_ENV, type ManagerToWorker, type WorkerConfig, type WorkerToManager } from '../../src/protocol/worker.js';
import { noTraffic } from '../../src/protocol/traffic.js';

// A Host for unit tests of the manager's core: a clock that moves only when the test says, and
// workers that are objects speaking the worker protocol at the test's word. By default a fake
// worker answers the manager as the preload does (accept, drain, resume, exit); becoming ready,
// crashing or hanging is the test's to script.

/** Lets every promise and I/O callback waiting now run (the manager reacts to what just happened). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private time = 1_000_000;
  private seq = 0;
  private timers: Timer[] = [];
  private turn: (() => void)[] = [];

  now(): number {
    return this.time;
  }

  after(ms: number, fn: () => void): Cancel {
    const timer = { at: this.time + Math.max(1, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return () => (this.timers = this.timers.filter((t) => t !== timer));
  }

  soon(fn: () => void): Cancel {
    let cancelled = false;
    this.turn.push(() => cancelled || fn());
    return () => (cancelled = true);
  }

  /** Moves the time on by `ms`, running each timer as its time comes (and what it set off), in order. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await this.nextTurn();
    for (let next = this.due(end); next; next = this.due(end)) {
      this.time = next.at;
      this.timers = this.timers.filter((t) => t !== next);
      next.fn();
      await this.nextTurn();
    }
    this.time = end;
  }

  /**
   * A frozen manager waking up: `ms` passed at once, and the overdue timers run before anything
   * else; what they left for the next turn (see Deadline) waits for nextTurn().
   */
  jump(ms: number): void {
    this.time += ms;
    for (let next = this.due(this.time); next; next = this.due(this.time)) {
      this.timers = this.timers.filter((t) => t !== next);
      next.fn();
    }
  }

  /** The event loop's next turn: what was left for it runs, and what that sets off. */
  async nextTurn(): Promise<void> {
    await settle();
    const turn = this.turn;
    this.turn = [];
    for (const fn of turn) fn();
    await settle();
  }

  private due(end: number): Timer | undefined {
    return this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
  }
}

export class FakeHost extends FakeClock implements Host {
  readonly workers: FakeWorker[] = [];
  /** The next forks fail as when out of processes: no pid, an 'error', no 'exit'. */
  failForks = false;
  private nextPid = 10_000_000; // above any real pid_max: /proc never has them

  fork(_module: string, _args: string[], options: ForkOptions): WorkerChild {
    const config = JSON.parse(options.env![WORKER_CONFIG_ENV]!) as WorkerConfig;
    const w = new FakeWorker(this.failForks ? undefined : this.nextPid++, config);
    this.workers.push(w);
    return w;
  }

  kill(pid: number, signal: NodeJS.Signals): void {
    const w = this.workers.find((x) => x.pid === pid && !x.gone);
    if (!w) throw Object.assign(new Error(`kill ESRCH`), { code: 'ESRCH' });
    w.signalled.push(signal);
    w.exit(null, signal);
  }

  /** The live workers of `generation` (all generations when not given). */
  live(generation?: number): FakeWorker[] {
    return this.workers.filter((w) => !w.gone && w.pid !== undefined && (generation === undefined || w.config.generation === generation));
  }
}

export class FakeWorker extends EventEmitter implements WorkerChild {
  readonly stdout = null;
  readonly stderr = null;
  readonly sent: ManagerToWorker[] = [];
  readonly signalled: NodeJS.Signals[] = [];
  gone = false;
  /** Answers the manager's requests as the preload does; false: silent, as a worker whose loop hangs. */
  answers = true;

  constructor(
    readonly pid: number | undefined,
    readonly config: WorkerConfig,
  ) {
    super();
    if (pid === undefined) setImmediate(() => this.emit('error', new Error('spawn EAGAIN')));
  }

  get connected(): boolean {
    return !this.gone && this.pid !== undefined;
  }

  get slot(): number {
    return this.config.slot;
  }

  send(message: unknown): boolean {
    if (!this.connected) return false;
    const msg = message as ManagerToWorker;
    this.sent.push(msg);
    if (this.answers) queueMicrotask(() => this.answer(msg));
    return true;
  }

  /** Says `msg` to the manager, as the worker's preload would. */
  say(msg: WorkerToManager): void {
    if (this.connected) this.emit('message', msg);
  }

  ready(): void {
    this.say({ hypnode: 'ready' });
  }

  beat(): void {
    this.say({ hypnode: 'heartbeat', stats: { rss: 0, heapUsed: 0, linesDropped: 0, requests: 0, connections: 0, loopDelay: 0, traffic: noTraffic() } });
  }

  /** The process ended (a crash, or the end of a drain). */
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (this.gone) return;
    this.gone = true;
    this.emit('exit', code, signal);
  }

  private answer(msg: ManagerToWorker): void {
    switch (msg.hypnode) {
      case 'accept':
      case 'resume':
        return this.say({ hypnode: 'accepting' });
      case 'drain':
        this.say({ hypnode: 'stopped-accepting' });
        return msg.linger ? this.say({ hypnode: 'drained' }) : this.exit(0);
      case 'exit':
        return this.exit(0);
      default:
        return;
    }
  }
}

/** A Logger that keeps what it is told, for the test to read. */
export function memoryLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(m),
    warn: (m) => void lines.push(m),
    error: (m) => void lines.push(m),
    report: (m) => (lines.push(m), true),
    onRecovered: () => {},
    worker: () => {},
    setFormat: () => {},
    reopen: () => [],
    dropped: 0,
    close: () => {},
    whenWritten: (done) => done(),
    direct: () => null,
  };
}
