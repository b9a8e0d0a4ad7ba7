import { sleep, type Clock } from './host.js';

// A rollout's last check (see rollout.ts): listening and answering one request is not yet serving
// for good (an app may die a moment later of what it loads in the background). For a while after
// the switch, and at least until the old side has drained, the death of any new worker (or of the
// new manager) fails the rollout, and the old side, kept alive meanwhile, serves again.

/** Subscribes a listener to the deaths that count; returns the unsubscribe. */
export type CrashWatch<Crash> = (listener: (crash: Crash) => void) => () => void;

export class Probation<Crash> {
  private death: Crash | null = null;
  private wake: () => void = () => {};
  private readonly unwatch: () => void;

  /** Watches from now: a crash between the new side's readiness and the switch counts too. */
  constructor(
    watch: CrashWatch<Crash>,
    private readonly ms: number,
    private readonly clock: Clock,
  ) {
    this.unwatch = ms > 0 ? watch((crash) => {
      this.death ??= crash;
      this.wake();
    }) : () => {};
  }

  /** Whether there is a probation at all: if so, the old workers must linger until it ends. */
  get lasts(): boolean {
    return this.ms > 0;
  }

  /**
   * Waits until the window (from now) has passed and `drained` has resolved, or a new worker
   * died: returns that death, or null.
   */
  async verdict(drained: Promise<void>): Promise<Crash | null> {
    if (this.ms <= 0) {
      await drained;
      return null;
    }
    const died = new Promise<void>((resolve) => {
      this.wake = resolve;
      if (this.death) resolve();
    });
    const window = new AbortController();
    const over = sleep(this.clock, this.ms, window.signal);
    await Promise.race([Promise.all([drained, over]), died]);
    window.abort();
    this.end();
    return this.death;
  }

  /** Stops watching (the rollout ended otherwise). */
  end(): void {
    this.unwatch();
  }
}
