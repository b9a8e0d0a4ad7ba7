import type { Settings } from '../config/settings.js';

// How many workers a batched reload (or the recycling of workers) replaces at once: a count, or a
// percentage of the workers rounded up, never less than one nor more than all.

/** `unset`: what no setting means (a reload: every worker at once). */
export function batchSize(setting: Settings['reloadBatch'], workers: number, unset = workers): number {
  if (setting === null) return Math.min(unset, workers);
  const n = typeof setting === 'number' ? setting : setting.endsWith('%') ? Math.ceil((workers * Number(setting.slice(0, -1))) / 100) : Number(setting);
  return Math.max(1, Math.min(n, workers));
}
