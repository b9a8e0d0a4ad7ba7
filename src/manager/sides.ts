import type { Generation } from './generation.js';
import type { Incoming, Outgoing } from './rollout.js';
import type { WorkerExit } from '../protocol/worker-exit.js';
import type { WorkerProcess } from './worker-process.js';

// This manager's generations as the sides of a rollout (see rollout.ts): a new generation coming
// in (a reload), and the serving ones going out, whole (a reload, an upgrade) or by the slots of
// a batched reload's first batch.

/** What the manager does around a new generation's steps: its part in them, not the rollout's. */
export interface IncomingSteps {
  /** Starts the generation's workers and waits until each stands by; a failure discards it and throws. */
  standBy(): Promise<void>;
  /** It took over: it is the current generation now. */
  switchTo(): void;
  /** The rollout failed after the switch: the previous generation is the current one again. */
  switchBack(): void;
  /** Kills what is left of it and forgets it. */
  discard(): Promise<void>;
}

export function incomingGeneration(next: Generation, steps: IncomingSteps): Incoming<WorkerExit> {
  let tookOver = false;
  return {
    standBy: () => steps.standBy(),
    async takeOver() {
      await next.takeOver();
      tookOver = true;
      steps.switchTo();
    },
    onCrash(listener) {
      next.on('crash', listener);
      return () => next.off('crash', listener);
    },
    commit: async () => {},
    async abort() {
      if (!tookOver) return steps.discard();
      steps.switchBack();
      await next.stopAccepting({ kind: 'replaced' }, 'exit');
      void next.drained().then(() => steps.discard());
    },
  };
}

/**
 * The generations `olds`, every slot. A rollout that fails hands them back their slots, and
 * resumes them while `serving()` says the manager serves on; when it stops instead, their
 * lingering workers may exit.
 */
export function outgoingGenerations(olds: Generation[], serving: () => boolean): Outgoing {
  const yields = olds.map((o) => o.yieldCount);
  const release = async () => {
    for (const o of olds) await o.releaseAll();
  };
  return {
    async stopAccepting(then) {
      for (const o of olds) await o.stopAccepting({ kind: 'replaced' }, then);
    },
    drained: () => Promise.all(olds.map((o) => o.drained())).then(() => {}),
    async resume() {
      if (!serving()) return release();
      for (const [i, o] of olds.entries()) await o.resume(yields[i]);
    },
    release,
  };
}

/** The workers of `olds` in slots [from, to): a batched reload's first batch replaces them alone. */
export function outgoingSlots(olds: Generation[], from: number, to: number, serving: () => boolean): Outgoing {
  const whole = outgoingGenerations(olds, serving);
  let leaving: Promise<WorkerProcess[]> = Promise.resolve([]);
  return {
    stopAccepting(then) {
      leaving = Promise.all(olds.map((o) => o.yieldSlots(from, to, then))).then((ws) => ws.flat());
      return leaving.then(() => {});
    },
    drained: () => leaving.then(() => {}),
    resume: whole.resume,
    async release() {
      const ws = await leaving;
      for (const w of ws) w.release();
      await Promise.all(ws.map((w) => w.exited));
    },
  };
}
