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

/**
 * `document` with the sections of a partial run (--only) in place of the published sections of the
 * same heading, the others kept: a change that touches one figure re-runs its sections, not the
 * whole 45-minute run. Each replaced section says when and on what it was re-run (the run's header),
 * since the header above it names another run.
 */
export function spliceSections(document: string, results: string, file: string): string {
  const at = document.indexOf(RESULTS_MARKER);
  if (at < 0) throw new Error(`${file} has no line ${RESULTS_MARKER}: put it where the results begin`);
  const published = sectionsOf(document.slice(at + RESULTS_MARKER.length));
  const run = sectionsOf(results);
  const rerun = run.head.replace(/^## Results (\S+)/, 'Re-run on $1 alone, not with the run above:').replace(/\n+/g, ' ').trim();
  for (const [heading, body] of run.sections) published.sections.set(heading, `\n${rerun}\n${body}`);
  const sections = [...published.sections].map(([heading, body]) => `${heading}\n${body.replace(/^\n*/, '\n').replace(/\n*$/, '\n')}`);
  return `${document.slice(0, at + RESULTS_MARKER.length)}\n\n${[`${published.head.trim()}\n`, ...sections].join('\n')}`;
}

/** The text before the first `### ` heading, and each section's body by its heading line. */
function sectionsOf(text: string): { head: string; sections: Map<string, string> } {
  const [head = '', ...parts] = text.split(/^(?=### )/m);
  return { head, sections: new Map(parts.map((p) => [p.slice(0, p.indexOf('\n')), p.slice(p.indexOf('\n') + 1)])) };
}

/** A full run replaces every published figure; a partial one (--only) only its own sections. */
export function publishResults(file: string, results: string, partial: boolean): void {
  const document = readFileSync(file, 'utf8');
  writeFileSync(file, partial ? spliceSections(document, results, file) : spliceResults(document, results, file));
}
