import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { charts } from '../../bench/charts.js';
import { parsePlan } from '../../bench/options.js';
import { BENCHMARKS } from '../../bench/paths.js';
import { RESULTS_MARKER, spliceResults, spliceSections } from '../../bench/publish.js';
import type { ReloadOutcome } from '../../bench/reload.js';
import { markdown, type Results } from '../../bench/report.js';
import type { PoolRun } from '../../bench/pools.js';
import type { Trial } from '../../bench/trial.js';

// The bench's charts are drawn from its results: each contender's own figures must reach its row.

function reload(failed: number, commandMs: number, moments: { firstNew: number | null; everywhere: number | null; oldDone: number | null }): ReloadOutcome {
  return {
    command: { code: 0, ms: commandMs, timedOut: false },
    requests: 3000,
    failed,
    failures: { reset: failed, refused: 0, timeout: 0, '5xx': 0, other: 0 },
    versions: {},
    firstNewMs: moments.firstNew,
    newEverywhereMs: moments.everywhere,
    oldDoneMs: moments.oldDone,
    returnedEarly: false,
  };
}

function trial(contender: string, round: number, r: ReloadOutcome | null, broken: Trial['broken'] = null): Trial {
  return { contender, round, startupMs: 100, idle: null, spread: null, keepAlive: null, newConnections: null, keepAliveCpuUs: null, newConnectionsCpuUs: null, reload: r, broken, leftovers: [], error: null };
}

const results = {
  logging: [],
  contenders: ['node', 'pm2', 'hypnode', 'cluster-none'].map((name) => ({ name, description: '', skipped: null })),
  trials: [
    trial('node', 0, null),
    trial('pm2', 0, reload(19, 536, { firstNew: 100, everywhere: 360, oldDone: 456 }), {
      command: { code: 0, ms: 6360, timedOut: false }, output: '', probes: 20, answered: 0, versions: {},
    }),
    trial('pm2', 1, reload(20, 558, { firstNew: 120, everywhere: 439, oldDone: 5440 })),
    trial('pm2', 2, reload(10, 540, { firstNew: 110, everywhere: 400, oldDone: 480 })),
    trial('hypnode', 0, reload(0, 2300, { firstNew: 150, everywhere: 157, oldDone: 458 }), {
      command: { code: 1, ms: 222, timedOut: false }, output: '', probes: 20, answered: 20, versions: { '2': 20 },
    }),
    trial('cluster-none', 0, reload(0, 1, { firstNew: 30, everywhere: null, oldDone: null })),
  ],
} as unknown as Results;

test('charts: failed requests per reload, median and worst round per contender that reloads', () => {
  const { failures } = charts(results);
  assert.ok(failures);
  assert.match(failures.svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(failures.svg, />19 \/ 20 of ~3000 requests</, 'pm2: median of 19, 20, 10 and its worst');
  assert.match(failures.svg, />0 \/ 0 of ~3000 requests</);
  assert.doesNotMatch(failures.svg, />node</, 'a contender without a reload has no row');
  assert.doesNotMatch(failures.svg, /NaN|Infinity|undefined/);
});

test('charts: the timeline takes each contender\'s median round whole, and says when the new code never took over', () => {
  const { timeline } = charts(results);
  assert.ok(timeline);
  assert.match(timeline.svg, />returned 540 ms; old done 480 ms</, 'pm2: the round of the median command time, not a mix of rounds');
  assert.match(timeline.svg, />returned 2\.30 s; old done 458 ms</);
  assert.match(timeline.svg, />new code never took every request</, 'cluster-none');
  assert.doesNotMatch(timeline.svg, /NaN|Infinity|undefined/);
});

test('charts: after a broken deploy, what answered and what the command said', () => {
  const { broken } = charts(results);
  assert.ok(broken);
  assert.match(broken.svg, />0\/20 answered; reload: exit 0 after 6\.36 s \(success\)</);
  assert.match(broken.svg, />20\/20 answered; reload: exit 1 after 222 ms</);
});

test('charts: logging against node cluster per sink, the median of the rounds\' ratios', () => {
  const run = (contender: string, sink: 'file' | 'pipe', requestsPerSec: number, round: number, newConnections = false) => ({ contender, sink, newConnections, round, requestsPerSec, linesPerSec: requestsPerSec, managerCpuSeconds: 0, seconds: 5, error: null });
  const logging = [run('cluster-none', 'file', 1000, 0), run('cluster-none', 'file', 1200, 1), run('hypnode', 'file', 990, 0), run('hypnode', 'file', 1210, 1), run('cluster-none', 'pipe', 500, 0), run('hypnode', 'pipe', 400, 0)];
  // Rounds at different speeds (cluster at 1000, 3000, 2000 req/s): each round's ratio counts, not the medians' 1000 against 2000.
  logging.push(...[[1000, 950], [3000, 2850], [2000, 1000]].flatMap(([cluster, hypnode], round) => [run('cluster-none', 'file', cluster!, round, true), run('hypnode', 'file', hypnode!, round, true)]));
  const chart = charts({ ...results, logging }).logging;
  assert.ok(chart);
  assert.match(chart.svg, />1\.00× \(1100 against 1100 req\/s\)</);
  assert.match(chart.svg, />0\.80× \(400 against 500 req\/s\)</);
  assert.match(chart.svg, />0\.95× \(1000 against 2000 req\/s\)</, 'the median of the rounds\' ratios');
  assert.match(chart.svg, /stroke-dasharray/, 'the 0.95× line');
});

test('charts: none for a run without reloads or logging', () => {
  assert.deepEqual(charts({ ...results, trials: [trial('node', 0, null)], logging: [] }), {});
});

test('spliceResults: replaces what follows the marker, keeps what precedes it, and names the file without one', () => {
  const doc = `# Benchmarks\n\nhow to run it\n\n${RESULTS_MARKER}\n\nold tables\n`;
  assert.equal(spliceResults(doc, '## Results new\n', 'BENCHMARKS.md'), `# Benchmarks\n\nhow to run it\n\n${RESULTS_MARKER}\n\n## Results new\n`);
  assert.throws(() => spliceResults('# Benchmarks\n', 'x', 'BENCHMARKS.md'), /BENCHMARKS\.md has no line <!-- Everything below/);
});

test('spliceSections: a partial run replaces its own sections, marked as re-run, and keeps the others', () => {
  const doc = `# Benchmarks\n\n${RESULTS_MARKER}\n\n## Results 2026-01-01\n\nmachine A\n\n### Pools\n\nold pools\n\n### Scale\n\nold scale\n`;
  const run = '## Results 2026-02-02\n\nmachine B; hypnode abc.\n\n### Pools\n\nnew pools\n';
  assert.equal(
    spliceSections(doc, run, 'BENCHMARKS.md'),
    `# Benchmarks\n\n${RESULTS_MARKER}\n\n## Results 2026-01-01\n\nmachine A\n\n### Pools\n\nRe-run on 2026-02-02 alone, not with the run above: machine B; hypnode abc.\n\nnew pools\n\n### Scale\n\nold scale\n`,
  );
});

test('BENCHMARKS.md carries the marker that --publish writes below, once', () => {
  assert.equal(readFileSync(BENCHMARKS, 'utf8').split(RESULTS_MARKER).length, 2);
});

test('--publish: a full run only, never a smoke run\'s figures', () => {
  assert.equal((parsePlan(['--publish'], []) as { publish: boolean }).publish, true);
  assert.throws(() => parsePlan(['--quick', '--publish'], []), /--publish: a --quick run is a smoke run/);
});

test('report: the CPU-bound section says what a request costs, under a heading that --publish --only can find again', () => {
  const pool = (contender: string, connectionsPerWorker: number[], requests: number): PoolRun => ({ contender, workers: 2, connections: 4, requests, failed: 0, connectionsPerWorker, busiestShare: connectionsPerWorker[0]! / 4, p99Ms: 3, error: null });
  const machine = { cpu: 'cpu', cores: 2, memoryGiB: 4, kernel: '6', node: 'v22', pm2: null, wrk: null, mojolicious: null, hypnode: null };
  const plan = parsePlan(['--only', 'cpu', '--duration', '2'], []) as Results['plan'];
  const cpu = { iterations: 1000, burnMs: 1.04, runs: [pool('hypnode-unbalanced', [4, 0], 2000), pool('hypnode', [2, 2], 3600)] };
  const text = markdown({ ...results, startedAt: '2026-12-06T00:00:00Z', plan, machine, contenders: [], trials: [], scale: [], scaleSkipped: null, loggingSkipped: [], upgrade: [], upgradeSkipped: [], pools: [], verdict: [], cpu }, {});
  assert.match(text, /^### A CPU-bound handler on 2 workers, a few keep-alive connections: does every core work$/m);
  assert.match(text, /^Each request burns PBKDF2-SHA256, 1000 iterations: 1\.04 ms of CPU/m);
  assert.match(text, /^\| 2 \| 4 \| hypnode-unbalanced \| 4\/0 \| 100 % \| 3 ms \| 1000 \|$/m);
  assert.match(text, /^\| 2 \| 4 \| hypnode \| 2\/2 \| 50 % \| 3 ms \| 1800 \|$/m);
  assert.doesNotMatch(text, /### A few keep-alive connections/, 'no pools section without pool runs');
});
