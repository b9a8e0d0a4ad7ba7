import { parseArgs } from 'node:util';

// The command line of `npm run bench` and what it implies for every phase of the run.

export const USAGE = `usage: node dist/bench/run.js [--quick] [--only NAME,...] [--reloads N] [--duration S] [--publish]

  --quick         smoke run (CI): one short wrk run and one reload per contender, scale with 2 workers
  --only NAMES    contenders to run, comma-separated; "scale" names the hypnode scale section,
                  "logging" the per-request logging section, "upgrade" the upgrade of the
                  manager itself against systemctl restart (needs the systemd sandbox), "pools"
                  how a few keep-alive connections spread over 4 and 8 workers, "cpu" the same on
                  2 workers of a CPU-bound app, "verdict" reloads of broken, slow and healthy
                  releases judged by their traffic
  --reloads N     repetitions per contender, each with one reload under load (default 5)
  --duration S    seconds of each wrk run (default 5)
  --publish       also write the tables into BENCHMARKS.md (after its results marker) and the
                  charts into docs/benchmarks/ (not with --quick); with --only, only the sections
                  that ran replace their published namesakes, each marked as re-run

Progress goes to stderr, the Markdown tables to stdout, everything to bench/results/latest.json,
the charts (SVG) beside it.`;

export class UsageError extends Error {}

/** What `--only` may name besides contenders. */
export const SECTIONS = ['scale', 'logging', 'upgrade', 'pools', 'cpu', 'verdict'];

export interface Plan {
  quick: boolean;
  /** Names to run (contenders and SECTIONS), or null for all. */
  only: string[] | null;
  repetitions: number;
  wrkSeconds: number;
  /** After the first answer, time for the other workers to come up before anything is measured. */
  settleMs: number;
  idleMs: number;
  spreadConnections: number;
  spreadConcurrency: number;
  /** Load before the reload command, and longest wait after it for the new code to answer everything. */
  warmMs: number;
  settleCapMs: number;
  commandCapMs: number;
  brokenReload: boolean;
  scaleWorkers: number[];
  scaleAllocMb: number;
  scaleReloads: number;
  /** Write the tables into BENCHMARKS.md and the charts into docs/benchmarks/. */
  publish: boolean;
}

export function parsePlan(argv: string[], names: readonly string[]): Plan | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        reloads: { type: 'string' },
        duration: { type: 'string' },
        publish: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const quick = values.quick === true;
  if (quick && values.publish) throw new UsageError('--publish: a --quick run is a smoke run, not figures to publish');
  const only = values.only === undefined ? null : values.only.split(',').map((n) => n.trim()).filter(Boolean);
  const known = [...names, ...SECTIONS];
  const unknown = only?.filter((n) => !known.includes(n)) ?? [];
  if (unknown.length) throw new UsageError(`--only: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  const repetitions = positive('--reloads', values.reloads, quick ? 1 : 5);
  return {
    quick,
    only,
    repetitions,
    wrkSeconds: positive('--duration', values.duration, quick ? 1 : 5),
    settleMs: quick ? 300 : 1000,
    idleMs: quick ? 500 : 2000,
    spreadConnections: quick ? 100 : 500,
    spreadConcurrency: quick ? 20 : 50,
    warmMs: quick ? 300 : 1500,
    settleCapMs: quick ? 3000 : 10_000,
    commandCapMs: quick ? 30_000 : 120_000,
    // A broken deploy has one outcome per contender, not a distribution: once, in the first round.
    brokenReload: !quick,
    scaleWorkers: quick ? [2] : [2, 8, 32],
    scaleAllocMb: 50,
    scaleReloads: quick ? 1 : Math.min(repetitions, 3),
    publish: values.publish === true,
  };
}

function positive(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag}: expected a positive whole number, got "${value}"`);
  return n;
}
