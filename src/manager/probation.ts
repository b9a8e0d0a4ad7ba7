import { setTimeout as delay } from 'node:timers/promises';
import type { Generation } from './generation.js';
import type { WorkerExit } from '../protocol/worker-exit.js';

// A reload's last check: listening and answering one request is not yet serving for good (an app
// may die a moment later of what it loads in the background). For a while after the switch, and
// at least until the old generation has drained, the death of any new worker fails the reload,
// and the old generation, kept alive meanwhile, serves again.

export class Probation {
  private death: WorkerExit | null = null;
  private wake: () => void = () => {};
  private readonly watch = (exit: WorkerExit) => {
    this.death ??= exit;
    this.wake();
  };

  /** Watches `gen` from now: a crash between its readiness and the switch counts too. */
  constructor(
    private readonly gen: Generation,
    private readonly ms: number,
  ) {
    if (ms > 0) gen.on('crash', this.watch);
  }

  /** Whether there is a probation at all: if so, the old workers must linger until it ends. */
  get lasts(): boolean {
    return this.ms > 0;
  }

  /**
   * Waits until the window (from now) has passed and `drained` has resolved, or a new worker
   * died: returns that worker's exit, or null.
   */
  async verdict(drained: Promise<void>): Promise<WorkerExit | null> {
    if (this.ms <= 0) {
      await drained;
      return null;
    }
    const died = new Promise<void>((resolve) => {
      this.wake = resolve;
      if (this.death) resolve();
    });
    const window = new AbortController();
    const over = delay(this.ms, undefined, { signal: window.signal }).catch(() => {});
    await Promise.race([Promise.all([drained, over]), died]);
    window.abort();
    this.gen.off('crash', this.watch);
    return this.death;
  }
}
