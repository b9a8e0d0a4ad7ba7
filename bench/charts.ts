import { againstCluster, LOG_SINKS, LOGGING_BASE, type LoggingRun } from './logging.js';
import type { Results } from './report.js';
import type { BrokenOutcome, ReloadOutcome } from './reload.js';
import { max, median, ms } from './stats.js';
import { legend, line, rect, svg, text, ticks } from './svg.js';

// The figures as pictures, drawn from the same results as the tables: failed requests per reload,
// what clients got after a deploy of broken code, and a reload's timeline, per contender; and
// logging at request rate against node's cluster, per sink.

export type ChartName = 'failures' | 'broken' | 'timeline' | 'logging';

export interface Chart {
  file: string;
  /** The image's alternative text in the Markdown: what it shows, in words. */
  alt: string;
  svg: string;
}

export const CHART_FILES: Record<ChartName, string> = {
  failures: 'reload-failures.svg',
  broken: 'broken-deploy.svg',
  timeline: 'reload-timeline.svg',
  logging: 'logging.svg',
};

/** What hypnode must keep of cluster's throughput with per-request logging, on every sink. */
const LOGGING_GOAL = 0.95;

const WIDTH = 820;
const LABEL = 150;
const ROW = 30;
const BAR = 16;
const TOP = 58;
const RIGHT = 250;
const PLOT = WIDTH - LABEL - RIGHT;

const COLOURS = {
  failed: '#d1495b',
  worst: '#6d1a24',
  old: '#9aa5b1',
  both: '#edae49',
  draining: '#66a3d2',
  new: '#2e8b57',
  nothing: '#d1495b',
  returned: '#111111',
};

export function charts(r: Results): Partial<Record<ChartName, Chart>> {
  const order = r.contenders.filter((c) => !c.skipped).map((c) => c.name);
  const reloads = order.map((name) => ({ name, rs: r.trials.filter((t) => t.contender === name && t.reload).map((t) => t.reload!) })).filter((x) => x.rs.length);
  const broken = order.flatMap((name) => r.trials.filter((t) => t.contender === name && t.broken).slice(0, 1).map((t) => ({ name, b: t.broken! })));
  return {
    ...(reloads.length ? { failures: failures(reloads), timeline: timeline(reloads) } : {}),
    ...(broken.length ? { broken: brokenDeploys(broken) } : {}),
    ...(r.logging.some((x) => !x.error && x.contender !== LOGGING_BASE) ? { logging: logging(r.logging.filter((x) => !x.error)) } : {}),
  };
}

function frame(title: string, subtitle: string, rows: number, key: string[]): { height: number; head: string[] } {
  const height = TOP + rows * ROW + 46;
  return { height, head: [text(12, 22, title, { size: 15, weight: 'bold' }), text(12, 40, subtitle, { size: 12, fill: '#555555' }), ...key] };
}

/** Gridlines and their values under the plot, for values 0..top. */
function axis(values: number[], top: number, rows: number, format: (v: number) => string): string[] {
  const bottom = TOP + rows * ROW;
  return values.flatMap((v) => {
    const x = LABEL + (v / top) * PLOT;
    return [line(x, TOP - 4, x, bottom, '#e3e3e3'), text(x, bottom + 16, format(v), { anchor: 'middle', size: 11, fill: '#555555' })];
  });
}

function failures(reloads: { name: string; rs: ReloadOutcome[] }[]): Chart {
  const worstOf = (rs: ReloadOutcome[]) => max(rs.map((x) => x.failed)) ?? 0;
  const grid = ticks(Math.max(5, ...reloads.map((x) => worstOf(x.rs))));
  const top = grid[grid.length - 1]!;
  const { height, head } = frame(
    'Failed requests per reload under load',
    `bar: median over the rounds; dark mark: the worst round (${max(reloads.map((x) => x.rs.length))} round(s))`,
    reloads.length,
    [],
  );
  const body = [...head, ...axis(grid, top, reloads.length, String)];
  reloads.forEach(({ name, rs }, i) => {
    const y = TOP + i * ROW;
    const mid = median(rs.map((x) => x.failed)) ?? 0;
    const worst = worstOf(rs);
    const requests = median(rs.map((x) => x.requests)) ?? 0;
    const worstX = LABEL + (worst / top) * PLOT;
    body.push(
      text(12, y + BAR - 3, name),
      rect(LABEL, y, (mid / top) * PLOT, BAR, COLOURS.failed, `${name}: median ${mid} failed`),
      line(worstX, y - 2, worstX, y + BAR + 2, COLOURS.worst, 3),
      text(LABEL + PLOT + 10, y + BAR - 3, `${mid} / ${worst} of ~${requests.toFixed(0)} requests`, { size: 12 }),
    );
  });
  return { file: CHART_FILES.failures, alt: 'Failed requests per reload under load, per contender: median and worst round', svg: svg(WIDTH, height, 'Failed requests per reload under load', body) };
}

function brokenDeploys(broken: { name: string; b: BrokenOutcome }[]): Chart {
  const probes = max(broken.map((x) => x.b.probes)) ?? 1;
  const { height, head } = frame(
    'What clients got after a deploy of code that throws at start',
    `${probes} requests on new connections, 2 s after the reload command returned; right: what the command said`,
    broken.length,
    legend(LABEL, TOP - 8, [
      { label: 'answered by the code before the deploy', fill: COLOURS.new },
      { label: 'no answer', fill: COLOURS.nothing },
    ]),
  );
  const body = [...head];
  broken.forEach(({ name, b }, i) => {
    const y = TOP + 8 + i * ROW;
    const answered = (b.answered / b.probes) * PLOT;
    const versions = Object.entries(b.versions).map(([v, count]) => `v${v} ×${count}`).join(', ');
    const said = b.command.timedOut ? `hung, killed after ${ms(b.command.ms)}` : `exit ${b.command.code} after ${ms(b.command.ms)}${b.command.code === 0 ? ' (success)' : ''}`;
    body.push(
      text(12, y + BAR - 3, name),
      rect(LABEL, y, answered, BAR, COLOURS.new, `${name}: ${b.answered}/${b.probes} answered${versions ? ` (${versions})` : ''}`),
      rect(LABEL + answered, y, PLOT - answered, BAR, COLOURS.nothing, `${name}: ${b.probes - b.answered}/${b.probes} not answered`),
      text(LABEL + PLOT + 10, y + BAR - 3, `${b.answered}/${b.probes} answered; reload: ${said}`, { size: 12 }),
    );
  });
  return { file: CHART_FILES.broken, alt: 'After a deploy of code that throws at start: how many requests were answered, and what the reload command said, per contender', svg: svg(WIDTH, height + 8, 'What clients got after a deploy of broken code', body) };
}

/**
 * One round per contender (the one whose command time is the median), so that its moments belong
 * together: medians taken moment by moment could describe a reload that never happened.
 */
function timeline(reloads: { name: string; rs: ReloadOutcome[] }[]): Chart {
  const picked = reloads.map(({ name, rs }) => ({ name, r: [...rs].sort((a, b) => a.command.ms - b.command.ms)[(rs.length - 1) >> 1]! }));
  const moments = picked.flatMap(({ r }) => [r.firstNewMs, r.newEverywhereMs, r.oldDoneMs, r.command.ms].filter((v): v is number => v !== null));
  const grid = ticks(Math.max(500, ...moments) * 1.05);
  const top = grid[grid.length - 1]!;
  const { height, head } = frame(
    'A reload under load, from the command\'s start',
    'one round per contender (its median by command time); black mark: the reload command returned',
    picked.length,
    legend(LABEL, TOP - 8, [
      { label: 'old code only', fill: COLOURS.old },
      { label: 'both answer new requests', fill: COLOURS.both },
      { label: 'old finishes its requests', fill: COLOURS.draining },
      { label: 'new code only', fill: COLOURS.new },
    ]),
  );
  const body = [...head, ...axis(grid, top, picked.length + 0.3, (v) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`))];
  const x = (v: number) => LABEL + (Math.min(v, top) / top) * PLOT;
  picked.forEach(({ name, r }, i) => {
    const y = TOP + 8 + i * ROW;
    const firstNew = r.firstNewMs ?? top;
    // The first new answer ends after the last old request was sent when the switch is instant.
    const everywhere = Math.max(r.newEverywhereMs ?? top, firstNew);
    const oldDone = r.oldDoneMs === null ? top : Math.max(r.oldDoneMs, everywhere);
    const segments: [number, number, string, string][] = [
      [0, firstNew, COLOURS.old, 'old code only'],
      [firstNew, everywhere, COLOURS.both, 'both versions answer new requests'],
      [everywhere, oldDone, COLOURS.draining, 'old code finishes its in-flight requests'],
      [oldDone, top, COLOURS.new, 'new code only'],
    ];
    body.push(text(12, y + BAR - 3, name));
    for (const [from, to, fill, what] of segments) if (to > from) body.push(rect(x(from), y, x(to) - x(from), BAR, fill, `${name}: ${what}, ${ms(from)} to ${ms(to)}`));
    const returned = x(r.command.ms);
    body.push(line(returned, y - 4, returned, y + BAR + 4, COLOURS.returned, 3));
    const note = r.newEverywhereMs === null ? 'new code never took every request' : `returned ${ms(r.command.ms)}; old done ${ms(r.oldDoneMs!)}`;
    body.push(text(LABEL + PLOT + 10, y + BAR - 3, note, { size: 12 }));
  });
  return { file: CHART_FILES.timeline, alt: 'Timeline of a reload under load per contender: old code only, both versions, old code finishing, new code only, and when the command returned', svg: svg(WIDTH, height + 8, 'A reload under load, from the command\'s start', body) };
}

function logging(runs: LoggingRun[]): Chart {
  const names = [...new Set(runs.map((x) => x.contender))].filter((n) => n !== LOGGING_BASE);
  const rps = (mine: LoggingRun[]) => median(mine.map((x) => x.requestsPerSec)) ?? 0;
  const rows = LOG_SINKS.flatMap((sink) =>
    [false, true].flatMap((newConnections) => {
      const here = runs.filter((x) => x.sink === sink && x.newConnections === newConnections);
      const base = rps(here.filter((x) => x.contender === LOGGING_BASE));
      return names.flatMap((name) => {
        const ratio = againstCluster(here, name);
        return ratio === null ? [] : [{ label: `${sink}, ${newConnections ? 'new connections' : 'keep-alive'}`, name, base, mine: rps(here.filter((x) => x.contender === name)), ratio }];
      });
    }),
  );
  const grid = ticks(Math.max(1.1, ...rows.map((x) => x.ratio)), 6);
  const top = grid[grid.length - 1]!;
  const fills = ['#2e8b57', '#9aa5b1', '#66a3d2'];
  const fill = (name: string) => fills[names.indexOf(name) % fills.length]!;
  const { height, head } = frame(
    `Logging at request rate: req/s against node's cluster (${LOGGING_BASE})`,
    `a JSON line per request, 2 workers, the median of the rounds' ratios (req/s: medians); dashed: ${LOGGING_GOAL}×`,
    rows.length,
    names.length > 1 ? legend(LABEL, TOP - 8, names.map((name) => ({ label: name, fill: fill(name) }))) : [],
  );
  const body = [...head, ...axis(grid, top, rows.length + 0.3, (v) => `${v.toFixed(1)}×`)];
  const x = (v: number) => LABEL + (v / top) * PLOT;
  const bottom = TOP + (rows.length + 0.3) * ROW;
  body.push(line(x(LOGGING_GOAL), TOP - 4, x(LOGGING_GOAL), bottom, '#d1495b', 1.5, '5 4'));
  rows.forEach(({ label, name, base, mine, ratio }, i) => {
    const y = TOP + 8 + i * ROW;
    body.push(
      text(12, y + BAR - 3, label, { size: 12 }),
      rect(LABEL, y, x(ratio) - LABEL, BAR, fill(name), `${name}, ${label}: ${mine.toFixed(0)} req/s, ${LOGGING_BASE} ${base.toFixed(0)}`),
      text(LABEL + PLOT + 10, y + BAR - 3, `${ratio.toFixed(2)}× (${mine.toFixed(0)} against ${base.toFixed(0)} req/s)`, { size: 12 }),
    );
  });
  return { file: CHART_FILES.logging, alt: `Logging at request rate: requests per second of hypnode against node's cluster on a file, a pipe and journald`, svg: svg(WIDTH, height + 8, 'Logging at request rate against node cluster', body) };
}
