import { setTimeout as delay } from 'node:timers/promises';
import type { Settings } from '../config/settings.js';
import { secs } from '../durations.js';
import { addTraffic, answers, noTraffic, type TrafficCounts } from '../protocol/traffic.js';
import type { Generation } from './generation.js';
import { judgeTraffic, type TrafficVerdict, type VerdictRules } from './traffic-verdict.js';

// The traffic verdict at the end of a reload's probation (see traffic-verdict.ts for the test):
// which answers of which generation are compared, over which window.
//
// The old code's answers must come from the same traffic as the new code's. With --reload-batch
// the canary serves beside the old workers of the other slots, so both are read over the same
// window: the probation, from the switch. Without batches, after the switch only the new code
// takes new connections, and what the old still answers (the requests in flight at the switch)
// is neither a fair nor a large sample; so the old code's window is the one of the same length
// just before the switch, when it served all the traffic the new code serves now. That is as
// close as time allows: a minute-scale shift of the traffic mix could differ, which the margins
// absorb; and as the new workers boot then, the old code's answers are if anything slower there,
// which errs toward accepting, never toward a rollback on noise. When that window holds too few
// answers (a reload right after a rollback: the old code was not serving for part of it), it
// reaches further back, a second at a time, up to a minute before the switch.

export interface Judged {
  next: Generation;
  olds: Generation[];
  /** The canary of a batched reload, serving beside the old workers. */
  canary: boolean;
  /** When the new code took over (its slots). */
  switchAt: number;
  settings: Settings;
}

/** How far before the switch a plain reload's old window may reach for its sample. */
const OLD_WINDOW_MAX_MS = 60_000;
/** Requests each new worker is sent a second while --verdict require waits for its sample. */
const PROBES_PER_SECOND = 50;

/** The verdict, once the probation has passed (null: none asked, or no probation to roll back in). */
export async function judgeProbation(j: Judged): Promise<TrafficVerdict | null> {
  const s = j.settings;
  if (s.verdict === 'off' || s.probation <= 0 || j.olds.length === 0) return null;
  const rules: VerdictRules = { confidence: s.verdictConfidence / 100, minRequests: s.verdictMinRequests, errorMargin: s.verdictErrorMargin, slowerBy: s.verdictSlowerBy };
  const deadline = Date.now() + (s.verdict === 'require' ? s.verdictMaxWait * 1000 : 0);
  for (;;) {
    const verdict = judgeNow(j, rules);
    if (verdict.kind !== 'none') return verdict;
    if (Date.now() >= deadline) return s.verdict === 'require' ? { kind: 'fail', words: `${verdict.words}, and --verdict require asks for one` } : verdict;
    // Probes reach every worker that serves: in a canary both codes, alike; in a plain reload the
    // new code only, the old code's window (before the switch) growing with the new one's.
    if (s.readyPath !== 'off') sample(j.canary ? [j.next, ...j.olds] : [j.next]);
    await delay(1000);
  }
}

function judgeNow(j: Judged, rules: VerdictRules): TrafficVerdict {
  const end = Date.now();
  const length = end - j.switchAt;
  const newer = answered([j.next], j.switchAt, end);
  if (j.canary) return judgeTraffic(newer, { counts: answered(j.olds, j.switchAt, end), window: `over the same ${secs(length)}` }, rules);
  let before = length;
  let older = answered(j.olds, j.switchAt - before, j.switchAt);
  while (answers(older) < rules.minRequests && before < OLD_WINDOW_MAX_MS) {
    before = Math.min(before + 1000, OLD_WINDOW_MAX_MS);
    older = answered(j.olds, j.switchAt - before, j.switchAt);
  }
  return judgeTraffic(newer, { counts: older, window: `over the ${secs(before)} before the switch` }, rules);
}


function sample(gens: Generation[]): void {
  for (const g of gens) for (const w of g.workers) if (w.state === 'serving') w.sample(PROBES_PER_SECOND);
}

function answered(gens: Generation[], from: number, to: number): TrafficCounts {
  const sum = noTraffic();
  for (const g of gens) for (const w of g.workers) addTraffic(sum, w.traffic.between(from, to));
  return sum;
}
