import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Chart } from './charts.js';

// Where a run's charts and tables go: always beside latest.json (not committed), and with
// --publish into the repository's BENCHMARKS.md and docs/benchmarks/, so that the document is
// exactly what the last full run printed and drew.

/** The line in BENCHMARKS.md after which everything is the bench's own output. */
export const RESULTS_MARKER = '<!-- Everything below is written by `npm run bench -- --publish`: edit bench/report.ts, not this. -->';

export function writeCharts(dir: string, charts: readonly Chart[]): void {
  mkdirSync(dir, { recursive: true });
  for (const c of charts) writeFileSync(join(dir, c.file), c.svg);
}

/** `document` with everything after the marker replaced by `results`. */
export function spliceResults(document: string, results: string, file: string): string {
  const at = document.indexOf(RESULTS_MARKER);
  if (at < 0) throw new Error(`${file} has no line ${RESULTS_MARKER}: put it where the results begin`);
  return `${document.slice(0, at + RESULTS_MARKER.length)}\n\n${results}`;
}

export function publishResults(file: string, results: string): void {
  writeFileSync(file, spliceResults(readFileSync(file, 'utf8'), results, file));
}
