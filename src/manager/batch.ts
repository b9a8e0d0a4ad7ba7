import type { Settings } from '../config/settings.js';
import { StartFailure, type Generation } from './generation.js';

// A batched reload (--reload-batch): the first batch is a canary, a rollout (see rollout.ts) of
// its slots alone, started while every old worker still serves, that fails the reload exactly as
// a whole generation would. Past its probation, the batches after it follow one by one (below),
// so that never more than a batch more than the steady state runs. How many workers a batch (or
// the recycling of workers) replaces at once: a count, or a percentage of the workers rounded
// up, never less than one nor more than all.

/** `unset`: what no setting means (a reload: every worker at once). */
export function batchSize(setting: Settings['reloadBatch'], workers: number, unset = workers): number {
  if (setting === null) return Math.min(unset, workers);
  const n = typeof setting === 'number' ? setting : setting.endsWith('%') ? Math.ceil((workers * Number(setting.slice(0, -1))) / 100) : Number(setting);
  return Math.max(1, Math.min(n, workers));
}

/**
 * The batches after the first: each starts its slots in `next` (crashes retried with backoff
 * until the ready timeout), then the old workers of those slots drain and exit. Returns null once
 * `next` has every slot; the failure of a batch that could not serve (`next` keeps the slots it
 * has, the old generations the others); or 'stopped' if the manager stops (`running()` false).
 */
export async function growInBatches(next: Generation, olds: Generation[], batch: number, say: (text: string) => void, running: () => boolean): Promise<StartFailure | 'stopped' | null> {
  const batches = Math.ceil(next.size / batch);
  for (let i = 1; i < batches; i++) {
    if (!running()) return 'stopped';
    const from = i * batch;
    const to = Math.min(from + batch, next.size);
    say(`batch ${i + 1}/${batches}: starting slots ${from}-${to - 1}`);
    try {
      await next.grow(to);
    } catch (err) {
      if (!(err instanceof StartFailure)) throw err;
      next.shrink(from);
      return err;
    }
    const leaving = (await Promise.all(olds.map((o) => o.yieldSlots(from, to, 'exit')))).flat();
    await Promise.all(leaving.map((w) => w.exited));
    say(`batch ${i + 1}/${batches}: generation ${next.id} serves slots 0-${to - 1}`);
  }
  return null;
}
