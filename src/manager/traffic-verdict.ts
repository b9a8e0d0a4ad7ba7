import { answers, bucketBound, LATENCY_BUCKETS, type TrafficCounts } from '../protocol/traffic.js';

// Whether the new code's answers are worse than the old's, on the evidence of one window of both
// generations' traffic: worse enough to matter (a margin) and unlikely to be chance (a one-sided
// test at a stated confidence), never a fixed ratio, which fires on noise at small counts.
//
// Three questions, each asked at a third of the allowed error (Bonferroni), so that the chance of
// refusing a release that is as good as the old one is at most 1 - confidence over all of them:
//
// - Failures (5xx, and answers cut off before their end): the Agresti–Caffo interval for the
//   difference of two proportions (each sample given one failure and one success more), whose
//   coverage holds at small counts and at rates near 0 where the plain Wald interval collapses.
//   Refused when its one-sided lower bound is above the margin (percentage points).
// - Latency, at the median and at the 99th percentile, from the histograms: first an upper
//   confidence bound of the old code's quantile (the order statistic n·p + z·√(n·p·(1−p)), read as
//   its bucket's upper edge), then the threshold t = that bound × (1 + margin) and at least the
//   floor above it; the new code's quantile is above t exactly when more than 1 − p of its answers
//   took longer than t, which a Wilson lower bound on that share (only buckets wholly above t
//   counted) shows or not. Each of the two steps gets half of this question's error. If the new
//   code's quantile is no higher than (1 + margin) times the old's, the share is at most 1 − p and
//   the test refuses with at most that error, whatever the shape of the distributions.

export interface VerdictRules {
  /** 0.999: the chance of refusing a release no worse than the old one is at most 0.1%. */
  confidence: number;
  /** Answers each generation must have given in the window for a verdict. */
  minRequests: number;
  /** Percentage points of failures above the old code's that count as worse. */
  errorMargin: number;
  /** Percent by which a latency quantile must exceed the old code's to count as worse. */
  slowerBy: number;
}

/**
 * Latency differences below this are no regression whatever the ratio: in its first seconds a new
 * process's code is not yet optimized by the JIT and its caches are cold, which showed on loopback
 * as a p99 of 23 ms against the old code's 18 ms for the very same code.
 */
const LATENCY_FLOOR_MS = 10;

export interface TrafficSample {
  counts: TrafficCounts;
  /** How the old code's window reads after its numbers: "over the same 4 s". */
  window: string;
}

export type TrafficVerdict = { kind: 'pass' | 'fail' | 'none'; words: string };

interface Summary {
  answered: number;
  failed: number;
  finished: number;
}

export function judgeTraffic(newer: TrafficCounts, older: TrafficSample, rules: VerdictRules): TrafficVerdict {
  const n = summarize(newer);
  const o = summarize(older.counts);
  const at = `at ${percent(rules.confidence)} confidence`;
  if (n.answered < rules.minRequests || o.answered < rules.minRequests) {
    return { kind: 'none', words: `${count(n.answered)} requests to the new code and ${count(o.answered)} to the old ${older.window} (${count(rules.minRequests)} needed of each); no verdict on traffic` };
  }
  const alpha = (1 - rules.confidence) / 3;
  if (failuresWorse(n, o, alpha, rules.errorMargin / 100)) {
    return { kind: 'fail', words: `new code: ${failedWords(n, newer)}; old code: ${share(o.failed, o.answered)} of ${count(o.answered)} ${older.window}; refused ${at}` };
  }
  for (const [p, name] of [[0.5, 'median'], [0.99, 'p99']] as const) {
    const slower = slowerAt(p, newer.latency, older.counts.latency, alpha, rules.slowerBy / 100);
    if (slower) {
      return { kind: 'fail', words: `new code: ${name} above ${ms(slower.threshold)} (${share(slower.above, n.finished)} of ${count(n.finished)} answers took longer); old code: ${name} at most ${ms(slower.oldBound)} of ${count(o.finished)} ${older.window}; refused ${at}` };
    }
  }
  return { kind: 'pass', words: `new code: ${failedWords(n, newer)}, ${quantileWords(newer.latency)}; old code: ${share(o.failed, o.answered)} of ${count(o.answered)}, ${quantileWords(older.counts.latency)} ${older.window}; not worse ${at}` };
}

function summarize(c: TrafficCounts): Summary {
  return { answered: answers(c), failed: c.status[3] + c.aborted, finished: answers(c) - c.aborted };
}

/** The one-sided test of the failure shares (see the top). */
function failuresWorse(n: Summary, o: Summary, alpha: number, margin: number): boolean {
  const pn = (n.failed + 1) / (n.answered + 2);
  const po = (o.failed + 1) / (o.answered + 2);
  const se = Math.sqrt((pn * (1 - pn)) / (n.answered + 2) + (po * (1 - po)) / (o.answered + 2));
  return pn - po - normalQuantile(1 - alpha) * se > margin;
}

interface Slower {
  threshold: number;
  oldBound: number;
  above: number;
}

/** The latency test at quantile `p` (see the top): what shows the new code slower, or null. */
function slowerAt(p: number, newer: number[], older: number[], alpha: number, margin: number): Slower | null {
  const z = normalQuantile(1 - alpha / 2);
  const no = sum(older);
  const nn = sum(newer);
  const rank = Math.ceil(no * p + z * Math.sqrt(no * p * (1 - p))) + 1;
  // Too few old answers to bound its quantile from above: no evidence either way.
  if (rank > no || nn === 0) return null;
  const oldBound = bucketBound(bucketOfRank(older, rank));
  if (!Number.isFinite(oldBound)) return null;
  const threshold = Math.max(oldBound * (1 + margin), oldBound + LATENCY_FLOOR_MS);
  let above = 0;
  for (let i = 1; i < LATENCY_BUCKETS; i++) if (bucketBound(i - 1) >= threshold) above += newer[i];
  return wilsonLower(above, nn, z) > 1 - p ? { threshold, oldBound, above } : null;
}

/** The bucket holding the `rank`-th shortest answer (1-based). */
function bucketOfRank(hist: number[], rank: number): number {
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= rank) return i;
  }
  return hist.length - 1;
}

function wilsonLower(k: number, n: number, z: number): number {
  const p = k / n;
  const z2 = z * z;
  return (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

/** The standard normal's quantile, by bisection of its distribution function (a handful of calls per reload). */
export function normalQuantile(q: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Φ(x) through erf (Abramowitz–Stegun 7.1.26, error below 1.5e-7). */
function normalCdf(x: number): number {
  const t = 1 / (1 + (0.3275911 * Math.abs(x)) / Math.SQRT2);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

function failedWords(n: Summary, c: TrafficCounts): string {
  const what = c.aborted > 0 ? '5xx or cut off' : '5xx';
  const routes = Object.entries(c.failedRoutes).sort((a, b) => b[1] - a[1]);
  const top = routes[0] && c.status[3] > 0 && routes[0][1] / c.status[3] >= 0.5 ? ` (${routes[0][0]} ${Math.round((100 * routes[0][1]) / c.status[3])}% of them)` : '';
  return `${what} on ${share(n.failed, n.answered)} of ${count(n.answered)} requests${top}`;
}

function quantileWords(hist: number[]): string {
  const n = sum(hist);
  const q = (p: number) => ms(bucketBound(bucketOfRank(hist, Math.max(1, Math.ceil(n * p)))));
  return `median ≤ ${q(0.5)}, p99 ≤ ${q(0.99)}`;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const count = (n: number) => n.toLocaleString('en-US');
const share = (k: number, n: number) => `${n === 0 ? 0 : Number(((100 * k) / n).toPrecision(2))}%`;
const percent = (x: number) => `${Number((100 * x).toPrecision(4))}%`;
const ms = (x: number) => (Number.isFinite(x) ? `${Number(x.toPrecision(2))} ms` : 'any time');
