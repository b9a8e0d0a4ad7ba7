import { fork, type ForkOptions } from 'node:child_process';
import type { Readable } from 'node:stream';

// What the manager's core asks of the operating system: the time, timers, starting a worker, and
// signalling one. Generation, WorkerProcess, Probation and Rollout reach them through a Host (as
// cloudflare/tableflip's `env`), never directly, so that a test can hand them a fake one (see
// test/unit/fake-host.ts) with a clock it moves and workers it scripts, and cover in milliseconds
// what real processes take seconds to show.

/** Cancels what it was returned for; a no-op once that has run. */
export type Cancel = () => void;

export interface Clock {
  now(): number;
  /** Calls `fn` in `ms`. */
  after(ms: number, fn: () => void): Cancel;
  /** Calls `fn` on the event loop's next turn, once what waits in the pipes has been read. */
  soon(fn: () => void): Cancel;
}

/** The worker process as the manager drives it: the part of ChildProcess it uses. */
export interface WorkerChild {
  /** Undefined when the fork failed (an 'error' follows, and no 'exit'). */
  readonly pid?: number | undefined;
  readonly connected: boolean;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  send(message: unknown, handle?: never): unknown;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
}

export interface Host extends Clock {
  fork(module: string, args: string[], options: ForkOptions): WorkerChild;
  /** Throws if there is no such process (as process.kill does). */
  kill(pid: number, signal: NodeJS.Signals): void;
}

/** Resolves in `ms` on `clock`; early, if `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const cancel = clock.after(ms, done);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** The real one: this process's clock, child_process.fork and process.kill. */
export const processHost: Host = {
  now: () => Date.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
  soon(fn) {
    const immediate = setImmediate(fn);
    return () => clearImmediate(immediate);
  },
  fork: (module, args, options) => fork(module, args, options),
  kill(pid, signal) {
    process.kill(pid, signal);
  },
};
