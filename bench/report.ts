import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { batchSize } from '../src/manager/batch.js';
import type { ChartName } from './charts.js';
import { FAILURE_KINDS } from '../tools/load.js';
import type { Machine } from './machine.js';
import type { Plan } from './options.js';
import { againstCluster, type LoggingRun } from './logging.js';
import type { UpgradeRun } from './upgrade.js';
import type { PoolRun } from './pools.js';
import type { CpuRun } from './cpu.js';
import { PROBATION_S, RELEASES, type VerdictRun } from './verdict.js';
import type { ScalePoint } from './scale.js';
import { max, median, ms } from './stats.js';
import type { Trial } from './trial.js';

// The run's results: all of it as JSON, the summary as Markdown tables (medians over the rounds,
// and the worst round where a single bad reload matters more than the typical one).

export interface Results {
  startedAt: string;
  finishedAt: string;
  plan: Plan;
  machine: Machine;
  contenders: { name: string; description: string; skipped: string | null }[];
  trials: Trial[];
  scale: ScalePoint[];
  scaleSkipped: string | null;
  logging: LoggingRun[];
  loggingSkipped: string[];
  upgrade: UpgradeRun[];
  upgradeSkipped: string[];
  pools: PoolRun[];
  cpu: CpuRun | null;
  verdict: VerdictRun[];
}

export function writeJson(path: string, results: Results): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

const NONE = '—';

/** A chart drawn for the run: where the Markdown finds it, relative to itself, and its alternative text. */
export type Images = Partial<Record<ChartName, { path: string; alt: string }>>;

export function markdown(r: Results, images: Images): string {
  const ran = r.contenders.filter((c) => !c.skipped).map((c) => ({ name: c.name, trials: r.trials.filter((t) => t.contender === c.name) }));
  const sections = [header(r), throughput(ran), managerGoals(ran), besideCluster(ran), reloads(ran, images), brokenReloads(r.trials, images), scale(r), logging(r, images), upgrade(r), pools(r), cpu(r), verdict(r), notes(r)].filter((s) => s.length);
  return `${sections.map((s) => s.join('\n')).join('\n\n')}\n`;
}

interface Ran {
  name: string;
  trials: Trial[];
}

function header(r: Results): string[] {
  const m = r.machine;
  return [
    `## Results ${r.startedAt.slice(0, 10)}${r.plan.quick ? ' (--quick: smoke run, not for comparison)' : ''}`,
    '',
    `${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB, Linux ${m.kernel}; Node ${m.node}, PM2 ${m.pm2 ?? NONE}, ` +
      `wrk ${m.wrk ?? NONE}, Mojolicious ${m.mojolicious ?? NONE}; hypnode ${m.hypnode ?? NONE}.`,
    `${r.plan.repetitions} round(s), contenders alternating; wrk -t2 -c50 -d${r.plan.wrkSeconds}s. Medians unless marked.`,
  ];
}

function throughput(ran: Ran[]): string[] {
  if (!ran.length) return [];
  const lines = [
    '### Throughput, spread, footprint',
    '',
    row(['contender', 'keep-alive req/s', 'p99', 'CPU a request', 'new connection req/s', 'p99', 'CPU a request', 'busiest worker', 'start → first answer', 'manager RSS', 'all RSS', 'manager idle CPU']),
    row(['---', ...Array<string>(11).fill('---:')]),
  ];
  for (const { name, trials } of ran) {
    const pick = (f: (t: Trial) => number | null | undefined) => median(trials.map(f).filter((v): v is number => typeof v === 'number'));
    const workers = max(trials.map((t) => t.spread?.perWorker.length ?? 0));
    lines.push(
      row([
        name,
        fmt(pick((t) => t.keepAlive?.requestsPerSec), (v) => v.toFixed(0)),
        fmt(pick((t) => t.keepAlive?.p99Ms), ms),
        fmt(pick((t) => t.keepAliveCpuUs), micros),
        fmt(pick((t) => t.newConnections?.requestsPerSec), (v) => v.toFixed(0)),
        fmt(pick((t) => t.newConnections?.p99Ms), ms),
        fmt(pick((t) => t.newConnectionsCpuUs), micros),
        fmt(pick((t) => t.spread?.busiestShare), (v) => `${(v * 100).toFixed(0)}% of ${workers}`),
        fmt(pick((t) => t.startupMs), ms),
        fmt(pick((t) => t.idle?.managerRssMb), megabytes),
        fmt(pick((t) => t.idle?.totalRssMb), megabytes),
        fmt(pick((t) => t.idle?.managerCpuPct), (v) => `${v.toFixed(1)}%`),
      ]),
    );
  }
  return lines;
}

// What hypnode's manager should cost at most (issue 28), beside what it is measured against.
const GOAL_RSS_MB = 45;
const GOAL_ADMIN_EXTRA_MB = 5;
const GOAL_START_EXTRA_MS = 100;

/** The manager's memory and start time against those goals, from the throughput rounds. */
function managerGoals(ran: Ran[]): string[] {
  const pick = (name: string, f: (t: Trial) => number | null | undefined) => median((ran.find((c) => c.name === name)?.trials ?? []).map(f).filter((v): v is number => typeof v === 'number'));
  const rss = (name: string) => pick(name, (t) => t.idle?.managerRssMb);
  const start = (name: string) => pick(name, (t) => t.startupMs);
  const [hypnode, admin, primary] = [rss('hypnode'), rss('hypnode-admin'), rss('cluster-none') ?? rss('cluster-rr')];
  const [started, bare] = [start('hypnode'), start('node')];
  if (hypnode === null && admin === null) return [];
  const met = (value: number | null, limit: number | null) => (value === null || limit === null ? NONE : value <= limit ? 'yes' : 'no');
  return [
    "### hypnode's manager against its goals",
    '',
    row(['figure', 'hypnode', 'beside it', 'goal', 'met']),
    row(['---', '---:', '---:', '---', '---']),
    row(['manager RSS, 2 workers idle', fmt(hypnode, megabytes), `cluster primary ${fmt(primary, megabytes)}`, `at most ${GOAL_RSS_MB} MB`, met(hypnode, GOAL_RSS_MB)]),
    row(['manager RSS with --admin', fmt(admin, megabytes), `without ${fmt(hypnode, megabytes)}`, `at most ${GOAL_ADMIN_EXTRA_MB} MB more`, met(admin, hypnode === null ? null : hypnode + GOAL_ADMIN_EXTRA_MB)]),
    row(['start → first answer', fmt(started, ms), `bare node ${fmt(bare, ms)}`, `at most bare node + ${GOAL_START_EXTRA_MS} ms`, met(started, bare === null ? null : bare + GOAL_START_EXTRA_MS)]),
  ];
}

// Issue 28: hypnode's workers serve as fast as node's cluster with the workers accepting (SCHED_NONE).
const GOAL_THROUGHPUT_RATIO = 0.97;

/**
 * hypnode's throughput beside cluster-none's, from the same rounds: req/s, and the CPU each
 * request cost (more work per request, or only less of the machine).
 */
function besideCluster(ran: Ran[]): string[] {
  const trialsOf = (name: string) => ran.find((c) => c.name === name)?.trials ?? [];
  const pick = (name: string, f: (t: Trial) => number | null | undefined) => median(trialsOf(name).map(f).filter((v): v is number => typeof v === 'number'));
  const names = ['hypnode', 'hypnode-unbalanced'].filter((n) => trialsOf(n).length > 0);
  if (!names.length || !trialsOf('cluster-none').length) return [];
  const ratio = (mine: number | null, theirs: number | null) => (mine === null || theirs === null || theirs === 0 ? null : mine / theirs);
  const times = (v: number) => `${v.toFixed(2)}×`;
  const lines = [
    "### hypnode's workers beside node's cluster (SCHED_NONE)",
    '',
    row(['contender', 'connections', 'req/s × cluster-none', `goal at least ${GOAL_THROUGHPUT_RATIO}×`, 'CPU a request × cluster-none (less is cheaper)']),
    row(['---', '---', '---:', '---', '---:']),
  ];
  for (const name of names) {
    for (const [label, rps, cpu] of [
      ['keep-alive', (t: Trial) => t.keepAlive?.requestsPerSec, (t: Trial) => t.keepAliveCpuUs],
      ['new', (t: Trial) => t.newConnections?.requestsPerSec, (t: Trial) => t.newConnectionsCpuUs],
    ] as const) {
      const speed = ratio(pick(name, rps), pick('cluster-none', rps));
      lines.push(row([name, label, fmt(speed, times), speed === null ? NONE : speed >= GOAL_THROUGHPUT_RATIO ? 'met' : 'not met', fmt(ratio(pick(name, cpu), pick('cluster-none', cpu)), times)]));
    }
  }
  return lines;
}

function reloads(ran: Ran[], images: Images): string[] {
  if (!ran.length) return [];
  const lines = [
    '### Reload under load',
    '',
    row(['contender', 'failed requests (median / worst)', 'failures by kind, all rounds', 'reload command returns after', 'new code takes every new request after', 'old code gave its last answer after', 'command returned after that by', 'command returned before new code took every request']),
    row(['---', '---:', '---', '---:', '---:', '---:', '---:', '---:']),
  ];
  for (const { name, trials } of ran) {
    const rs = trials.flatMap((t) => (t.reload ? [t.reload] : []));
    if (!rs.length) {
      lines.push(row([name, NONE, NONE, 'no reload', NONE, NONE, NONE, NONE]));
      continue;
    }
    const kinds = FAILURE_KINDS.map((k) => [k, rs.reduce((sum, x) => sum + x.failures[k], 0)] as const).filter(([, n]) => n > 0);
    const failedCommands = rs.filter((x) => x.command.code !== 0).length;
    const commandMs = rs.map((x) => x.command.ms);
    const everywhere = rs.map((x) => x.newEverywhereMs ?? Infinity);
    const oldDone = rs.map((x) => x.oldDoneMs ?? Infinity);
    const lag = rs.map((x) => (x.oldDoneMs === null ? Infinity : x.command.ms - x.oldDoneMs));
    lines.push(
      row([
        name,
        `${median(rs.map((x) => x.failed))} / ${max(rs.map((x) => x.failed))} of ~${median(rs.map((x) => x.requests))}`,
        kinds.length ? kinds.map(([k, n]) => `${k} ${n}`).join(', ') : 'none',
        `${ms(median(commandMs)!)} / ${ms(max(commandMs)!)}${failedCommands ? ` (failed ×${failedCommands})` : ''}`,
        `${reached(median(everywhere)!)} / ${reached(max(everywhere)!)}`,
        `${reached(median(oldDone)!)} / ${reached(max(oldDone)!)}`,
        lag.every(Number.isFinite) ? `${ms(median(lag)!)} / ${ms(max(lag)!)}` : NONE,
        `${rs.filter((x) => x.returnedEarly).length} of ${rs.length}`,
      ]),
    );
  }
  return [...lines, ...image(images.failures), ...image(images.timeline)];
}

function brokenReloads(trials: Trial[], images: Images): string[] {
  const broken = trials.flatMap((t) => (t.broken ? [{ name: t.contender, b: t.broken }] : []));
  if (!broken.length) return [];
  const lines = [
    '### Reload to code that throws at start',
    '',
    row(['contender', 'reload exit code', 'command took', 'answered afterwards']),
    row(['---', '---:', '---:', '---']),
  ];
  for (const { name, b } of broken) {
    const versions = Object.entries(b.versions).map(([v, n]) => `v${v} ×${n}`).join(', ');
    const answered = b.answered ? `${b.answered}/${b.probes} (${versions})` : `nothing (0/${b.probes})`;
    lines.push(row([name, b.command.timedOut ? 'hung, killed' : String(b.command.code), ms(b.command.ms), answered]));
  }
  return [...lines, ...image(images.broken)];
}

function logging(r: Results, images: Images): string[] {
  if (!r.logging.length && !r.loggingSkipped.length) return [];
  const names = [...new Set(r.logging.map((x) => x.contender))];
  const lines = [
    '### Logging at request rate: a JSON line per request, 2 workers',
    '',
    row(['sink', 'connections', 'contender', 'req/s', '× cluster-none (median of the rounds\' ratios)', 'lines/s', 'manager CPU', 'manager CPU per million lines']),
    row(['---', '---', '---', '---:', '---:', '---:', '---:', '---:']),
  ];
  for (const sink of ['file', 'pipe', 'journald'] as const) {
    for (const newConnections of [false, true]) {
      const runs = r.logging.filter((x) => x.sink === sink && x.newConnections === newConnections && !x.error);
      if (!runs.length) continue;
      for (const name of names) {
        const mine = runs.filter((x) => x.contender === name);
        if (!mine.length) continue;
        const rps = median(mine.map((x) => x.requestsPerSec)) ?? 0;
        const times = againstCluster(runs, name);
        const lps = median(mine.map((x) => x.linesPerSec)) ?? 0;
        const cpu = median(mine.map((x) => x.managerCpuSeconds)) ?? 0;
        const perMillion = median(mine.map((x) => (x.linesPerSec > 0 ? (x.managerCpuSeconds / (x.linesPerSec * x.seconds)) * 1e6 : NaN))) ?? NaN;
        lines.push(row([sink, newConnections ? 'new' : 'keep-alive', name, rps.toFixed(0), times === null ? NONE : `${times.toFixed(2)}×`, lps.toFixed(0), `${cpu.toFixed(2)} s`, Number.isNaN(perMillion) ? NONE : `${perMillion.toFixed(2)} s`]));
      }
    }
  }
  for (const s of r.loggingSkipped) lines.push('', `skipped: ${s}`);
  const errors = r.logging.filter((x) => x.error);
  for (const e of errors) lines.push('', `error, ${e.sink} ${e.contender}: ${firstLine(e.error!)}`);
  return [...lines, ...image(images.logging)];
}

function upgrade(r: Results): string[] {
  const runs = r.upgrade ?? [];
  if (!runs.length && !(r.upgradeSkipped ?? []).length) return [];
  const lines = [
    '### Upgrading the manager itself under systemd, under load (Type=notify unit, fd store, 2 workers, app boots in 0.5 s)',
    '',
    row(['method', 'Node', 'requests', 'failed', 'command took', 'longest wait', 'worst round: failed, longest wait']),
    row(['---', '---', '---:', '---:', '---:', '---:', '---:']),
  ];
  for (const method of ['hypnode upgrade', 'systemctl restart'] as const) {
    const mine = runs.filter((x) => x.method === method && !x.error);
    if (!mine.length) continue;
    const worst = mine.reduce((a, b) => (b.failed > a.failed || (b.failed === a.failed && b.longestWaitMs > a.longestWaitMs) ? b : a));
    lines.push(row([method, `${mine[0]!.from} → ${mine[0]!.to}`, String(median(mine.map((x) => x.requests))), String(median(mine.map((x) => x.failed))), ms(median(mine.map((x) => x.commandMs)) ?? 0), ms(median(mine.map((x) => x.longestWaitMs)) ?? 0), `${worst.failed}, ${ms(worst.longestWaitMs)}`]));
  }
  for (const s of r.upgradeSkipped ?? []) lines.push('', `skipped: ${s}`);
  for (const e of runs.filter((x) => x.error)) lines.push('', `error, ${e.method} round ${e.round + 1}: ${firstLine(e.error!)}`);
  return lines;
}

function pools(r: Results): string[] {
  const table = poolTable(r.pools ?? [], r.plan.wrkSeconds);
  return table.length ? ["### A few keep-alive connections (a proxy's upstream pool): how they spread over the workers", '', ...table] : [];
}

// The heading stays the same from run to run: --publish --only replaces a section by its heading.
function cpu(r: Results): string[] {
  const table = poolTable(r.cpu?.runs ?? [], r.plan.wrkSeconds);
  if (!r.cpu || !table.length) return [];
  return [
    '### A CPU-bound handler on 2 workers, a few keep-alive connections: does every core work',
    '',
    `Each request burns PBKDF2-SHA256, ${r.cpu.iterations} iterations: ${r.cpu.burnMs.toFixed(2)} ms of CPU in the rig's own process on this machine.`,
    '',
    ...table,
  ];
}

/** Connections per worker, busiest share, p99 and req/s per workers × connections × contender; then the runs that failed. */
function poolTable(all: PoolRun[], seconds: number): string[] {
  const runs = all.filter((x) => !x.error);
  if (!runs.length) return [];
  const lines = [
    row(['workers', 'connections', 'contender', 'connections per worker (a round)', 'busiest worker\'s share of requests', 'p99', 'req/s']),
    row(['---:', '---:', '---', '---', '---:', '---:', '---:']),
  ];
  for (const workers of [...new Set(runs.map((x) => x.workers))]) {
    for (const connections of [...new Set(runs.map((x) => x.connections))]) {
      for (const name of [...new Set(runs.map((x) => x.contender))]) {
        const mine = runs.filter((x) => x.workers === workers && x.connections === connections && x.contender === name);
        if (!mine.length) continue;
        lines.push(row([String(workers), String(connections), name, mine[0]!.connectionsPerWorker.join('/'), `${((median(mine.map((x) => x.busiestShare)) ?? 0) * 100).toFixed(0)} %`, ms(median(mine.map((x) => x.p99Ms)) ?? 0), ((median(mine.map((x) => x.requests)) ?? 0) / seconds).toFixed(0)]));
      }
    }
  }
  for (const e of all.filter((x) => x.error)) lines.push('', `error, ${e.contender} ${e.workers} workers: ${firstLine(e.error!)}`);
  return lines;
}

function verdict(r: Results): string[] {
  const runs = r.verdict ?? [];
  if (!runs.length) return [];
  const lines = [
    `### Judged by its traffic: reloads of a broken, a slow and a healthy release under load (2 workers, ${PROBATION_S} s probation)`,
    '',
    row(['release', 'reloads', 'refused', 'accepted', 'command took (median, longest)', 'answered by the release before it was refused (median, most)']),
    row(['---', '---:', '---:', '---:', '---:', '---:']),
  ];
  for (const release of RELEASES) {
    const mine = runs.filter((x) => x.release === release);
    if (!mine.length) continue;
    const refused = mine.filter((x) => x.refused);
    const took = mine.map((x) => x.tookMs);
    const answered = refused.map((x) => x.answeredByRelease);
    lines.push(row([release, String(mine.length), String(refused.length), String(mine.length - refused.length), `${ms(median(took) ?? 0)}, ${ms(max(took) ?? 0)}`, release === 'healthy' || !answered.length ? NONE : `${median(answered)!.toFixed(0)}, ${max(answered)!.toFixed(0)}`]));
  }
  const example = (release: string, refused: boolean) => runs.find((x) => x.release === release && x.refused === refused)?.words;
  for (const [release, refused] of [['broken', true], ['slow', true], ['healthy', false]] as const) {
    const words = example(release, refused);
    if (words) lines.push('', `${release}, ${refused ? 'refused' : 'accepted'}: ${words}`);
  }
  return lines;
}

function scale(r: Results): string[] {
  if (!r.scale.length) return [];
  const lines = [
    `### Scale: hypnode, each worker holding ${r.plan.scaleAllocMb} MB; reloads under a light load`,
    '',
    row(['workers', 'reload batch', 'start → first answer', 'all workers booted', 'RSS, all processes', 'reload (median)', 'peak RSS during reload (worst)', 'peak / steady', 'goal (workers + batch) / workers', 'failed requests']),
    row(['---:', '---:', ...Array<string>(8).fill('---:')]),
  ];
  for (const p of r.scale) {
    const peak = max(p.reloads.map((x) => x.peakRssMb));
    const batch = batchSize(p.batch === 'all' ? null : p.batch, p.workers);
    lines.push(
      row([
        String(p.workers),
        p.batch ?? 'all',
        fmt(p.startupMs, ms),
        fmt(p.bootedMs, ms),
        fmt(p.steadyRssMb, megabytes),
        fmt(median(p.reloads.map((x) => x.ms)), ms),
        fmt(peak, megabytes),
        peak !== null && p.steadyRssMb ? `${(peak / p.steadyRssMb).toFixed(2)}×` : NONE,
        `${((p.workers + batch) / p.workers).toFixed(2)}×`,
        String(p.reloads.reduce((n, x) => n + (x.failed ?? 0), 0)),
      ]),
    );
  }
  return lines;
}

function notes(r: Results): string[] {
  return [
    ...r.contenders.filter((c) => c.skipped).map((c) => `${c.name} skipped: ${c.skipped}`),
    ...(r.scaleSkipped ? [`scale skipped: ${r.scaleSkipped}`] : []),
    ...r.trials.filter((t) => t.error).map((t) => `${t.contender}, round ${t.round + 1}: ${firstLine(t.error!)}`),
    ...r.trials.filter((t) => t.leftovers.length).map((t) => `${t.contender}, round ${t.round + 1}: outlived its stop: ${t.leftovers.join('; ')}`),
    ...r.scale.filter((p) => p.error).map((p) => `scale, ${p.workers} workers, batch ${p.batch}: ${firstLine(p.error!)}`),
  ].map((n) => `- ${n}`);
}

function image(chart: Images[ChartName]): string[] {
  return chart ? ['', `![${chart.alt}](${chart.path})`] : [];
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function fmt(value: number | null, f: (v: number) => string): string {
  return value === null ? NONE : f(value);
}

function megabytes(value: number): string {
  return `${value.toFixed(0)} MB`;
}

function micros(value: number): string {
  return `${value.toFixed(0)} µs`;
}

function reached(value: number): string {
  return Number.isFinite(value) ? ms(value) : 'not reached';
}

function firstLine(text: string): string {
  return text.split('\n')[0]!;
}
