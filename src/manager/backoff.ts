// Respawn delays for crashing workers: the first crash is replaced at once, each further crash
// in a row waits twice as long (up to a ceiling), so code that crashes at boot every time costs
// a few forks a minute instead of a fork storm. A worker that served for a while resets it.

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 15_000;
const STABLE_AFTER_MS = 10_000;

export class Backoff {
  private failures = 0;

  /** A worker exited unasked; `readyAt` is when it became ready (null: never). Returns the delay. */
  failed(readyAt: number | null, now = Date.now()): number {
    if (readyAt !== null && now - readyAt >= STABLE_AFTER_MS) this.failures = 0;
    this.failures++;
    return this.failures === 1 ? 0 : Math.min(FIRST_DELAY_MS * 2 ** (this.failures - 2), MAX_DELAY_MS);
  }
}
