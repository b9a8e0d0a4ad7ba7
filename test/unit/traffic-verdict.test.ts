import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeTraffic, normalQuantile, type VerdictRules } from '../../src/manager/traffic-verdict.js';
import { latencyBucket, noTraffic, type TrafficCounts } from '../../src/protocol/traffic.js';

const RULES: VerdictRules = { confidence: 0.999, minRequests: 500, errorMargin: 1, slowerBy: 50 };

/** A seeded generator: the same trials every run, so that a failure can be looked at again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Shape {
  requests: number;
  /** Share of 5xx answers, all on /checkout. */
  failing: number;
  /** Median latency (ms); log-normal, so a long tail like real services. */
  median: number;
}

function simulate(rand: () => number, { requests, failing, median }: Shape): TrafficCounts {
  const c = noTraffic();
  for (let i = 0; i < requests; i++) {
    // Box–Muller: a standard normal, for a log-normal latency with σ = 0.6.
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    c.latency[latencyBucket(median * Math.exp(0.6 * z))]++;
    if (rand() < failing) {
      c.status[3]++;
      const route = rand() < 0.88 ? 'GET /checkout' : 'GET /cart';
      c.failedRoutes[route] = (c.failedRoutes[route] ?? 0) + 1;
    } else c.status[0]++;
  }
  return c;
}

const old = (counts: TrafficCounts) => ({ counts, window: 'over the same 4 s' });

test('normalQuantile: the familiar values', () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.96) < 1e-3);
  assert.ok(Math.abs(normalQuantile(0.999) - 3.0902) < 1e-3);
});

test('a release that answers 5xx on 30% of requests is refused, with the evidence in words', () => {
  const rand = random(1);
  const v = judgeTraffic(simulate(rand, { requests: 1212, failing: 0.3, median: 3 }), old(simulate(rand, { requests: 4530, failing: 0.01, median: 3 })), RULES);
  assert.equal(v.kind, 'fail', v.words);
  assert.match(v.words, /^new code: 5xx on 3\d% of 1,212 requests \(GET \/checkout [89]\d% of them\); old code: [01](\.\d)?% of 4,530 over the same 4 s; refused at 99\.9% confidence$/);
});

test('a release five times slower is refused on its median; one slower only at the tail, on its p99', () => {
  const rand = random(2);
  const slow = judgeTraffic(simulate(rand, { requests: 1000, failing: 0, median: 50 }), old(simulate(rand, { requests: 3000, failing: 0, median: 10 })), RULES);
  assert.equal(slow.kind, 'fail', slow.words);
  assert.match(slow.words, /^new code: median above \d+ ms \(\d+% of 1,000 answers took longer\); old code: median at most \d+ ms of 3,000 over the same 4 s; refused at 99\.9% confidence$/);
  const tail = simulate(rand, { requests: 3000, failing: 0, median: 10 });
  tail.latency[latencyBucket(900)] += 200;
  const v = judgeTraffic(tail, old(simulate(rand, { requests: 3000, failing: 0, median: 10 })), RULES);
  assert.equal(v.kind, 'fail', v.words);
  assert.match(v.words, /^new code: p99 above/);
});

test('healthy against healthy (1% of 5xx each, the same latency) is accepted in 1000 trials of 1000 requests: no false refusal', () => {
  const rand = random(3);
  for (let i = 0; i < 1000; i++) {
    const shape = { requests: 1000, failing: 0.01, median: 8 };
    const v = judgeTraffic(simulate(rand, shape), old(simulate(rand, shape)), RULES);
    assert.equal(v.kind, 'pass', `trial ${i}: ${v.words}`);
  }
});

test('a slight difference (1% more 5xx, 10% slower) is within the margins: accepted', () => {
  const rand = random(4);
  for (let i = 0; i < 100; i++) {
    const v = judgeTraffic(simulate(rand, { requests: 2000, failing: 0.015, median: 11 }), old(simulate(rand, { requests: 2000, failing: 0.01, median: 10 })), RULES);
    assert.equal(v.kind, 'pass', `trial ${i}: ${v.words}`);
  }
});

test('too few requests on either side: no verdict, said with the counts', () => {
  const rand = random(5);
  const v = judgeTraffic(simulate(rand, { requests: 412, failing: 0.5, median: 3 }), old(simulate(rand, { requests: 4000, failing: 0, median: 3 })), RULES);
  assert.deepEqual(v, { kind: 'none', words: '412 requests to the new code and 4,000 to the old over the same 4 s (500 needed of each); no verdict on traffic' });
  assert.equal(judgeTraffic(simulate(rand, { requests: 4000, failing: 0, median: 3 }), old(noTraffic()), RULES).kind, 'none');
});

test('answers cut off count as failures, and say so', () => {
  const rand = random(6);
  const cut = simulate(rand, { requests: 1000, failing: 0, median: 3 });
  cut.aborted = 400;
  const v = judgeTraffic(cut, old(simulate(rand, { requests: 1000, failing: 0, median: 3 })), RULES);
  assert.equal(v.kind, 'fail', v.words);
  assert.match(v.words, /^new code: 5xx or cut off on 29% of 1,400 requests;/);
});
