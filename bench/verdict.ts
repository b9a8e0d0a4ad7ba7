import http from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, startLogged } from './commands.js';
import { waitForAnswer } from './http.js';
import type { Plan } from './options.js';
import { HYPNODE_CLI, nodeApp } from './paths.js';
import { progress } from './progress.js';
import { openRunDir } from './run-dir.js';

// Judged by its traffic (README): reloads under a steady load of mixed clients, each deploying a
// release that answers 500 on GET /checkout for 30% of all requests, one 5 times slower, or a
// healthy one with the same 1% 5xx background as the old code, in turn. Each reload's outcome
// (refused, accepted), how long the command took to say so, and how many requests the release
// answered before it was refused (told by its x-mode header at the client).

export type Release = 'broken' | 'slow' | 'healthy';
export const RELEASES: readonly Release[] = ['broken', 'slow', 'healthy'];
export const PROBATION_S = 5;
const CLIENTS = 10;
const BOOT_CAP_MS = 30_000;

export interface VerdictRun {
  release: Release;
  refused: boolean;
  /** The reload command's time, start to its answer. */
  tookMs: number;
  /** Requests the release itself answered (the old code's are not counted). */
  answeredByRelease: number;
  /** The verdict's words (refused or not), or what failed. */
  words: string;
}

/** Reloads per release: 20 of each bad one and 50 healthy ones in a full run, one each in --quick. */
export function reloadsPerRelease(plan: Plan): Record<Release, number> {
  return plan.quick ? { broken: 1, slow: 1, healthy: 1 } : { broken: 20, slow: 20, healthy: 50 };
}

export async function runVerdict(plan: Plan): Promise<VerdictRun[]> {
  const runs: VerdictRun[] = [];
  const run = await openRunDir('verdict', 2, plan.commandCapMs);
  const modeFile = join(run.setup.dir, 'mode.txt');
  writeFileSync(modeFile, 'healthy\n');
  const env = { ...run.setup.env, HYPNODE_RUNTIME_DIR: run.setup.dir, BENCH_MODE_FILE: modeFile };
  const app = nodeApp('verdict');
  const child = startLogged(process.execPath, [HYPNODE_CLI, 'start', app, '--workers', '2', '--probation', String(PROBATION_S)], env, join(run.setup.dir, 'hypnode.log'));
  let load: Load | null = null;
  try {
    if (!(await waitForAnswer(run.setup.port, BOOT_CAP_MS))) throw new Error(`hypnode did not answer\n${run.logs()}`);
    load = startLoad(run.setup.port);
    // The old code's window before the first switch.
    await new Promise((r) => setTimeout(r, PROBATION_S * 1000));
    const counts = reloadsPerRelease(plan);
    // Interleaved, so that no kind meets a machine warmer or busier than the others do.
    const order = RELEASES.flatMap((release) => Array.from({ length: counts[release] }, (_, i) => ({ release, i })))
      .sort((a, b) => a.i / counts[a.release] - b.i / counts[b.release]);
    for (const [n, { release }] of order.entries()) {
      writeFileSync(modeFile, `${release}\n`);
      const before = load.answered(release);
      const started = performance.now();
      const r = await runCommand(process.execPath, [HYPNODE_CLI, 'reload', app], env, plan.commandCapMs);
      const tookMs = performance.now() - started;
      const refused = r.code !== 0;
      const words = (refused ? /refused in its probation: (.*)/.exec(r.output)?.[1] : /traffic: (.*)/.exec(r.output)?.[1]) ?? r.output.trim().split('\n').at(-1) ?? '';
      runs.push({ release, refused, tookMs, answeredByRelease: load.answered(release) - before, words });
      progress(`verdict ${n + 1}/${order.length}: ${release} ${refused ? 'refused' : 'accepted'} in ${(tookMs / 1000).toFixed(1)} s`);
      // A refused release's workers drain away; the next reload finds the healthy code serving.
      if (refused) writeFileSync(modeFile, 'healthy\n');
    }
  } finally {
    await load?.stop();
    await runCommand(process.execPath, [HYPNODE_CLI, 'stop', app], env, plan.commandCapMs).catch(() => null);
    await run.close();
    child.kill('SIGKILL');
  }
  return runs;
}

interface Load {
  /** Answers so far from code in `mode` (its x-mode header). */
  answered(mode: string): number;
  stop(): Promise<void>;
}

/**
 * Clients asking for /, /cart and /checkout in turn until stopped: half keep their connection
 * alive, half open one per request, as a site's visitors come and go; each waits 5 ms between
 * requests, a steady load that leaves the machine room for the reloads.
 */
function startLoad(port: number): Load {
  let running = true;
  const byMode = new Map<string, number>();
  const paths = ['/', '/cart', '/checkout'];
  const client = async (i: number) => {
    const agent = i % 2 === 0 ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
    for (let n = 0; running; n++) {
      await new Promise<void>((resolve) => {
        http.get({ host: '127.0.0.1', port, path: paths[n % 3], agent }, (res) => {
          const mode = String(res.headers['x-mode'] ?? '');
          byMode.set(mode, (byMode.get(mode) ?? 0) + 1);
          res.resume().on('end', resolve);
        }).on('error', () => resolve());
      });
      await new Promise((r) => setTimeout(r, 5));
    }
    if (agent) agent.destroy();
  };
  const all = Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i)));
  return {
    answered: (mode) => byMode.get(mode) ?? 0,
    async stop() {
      running = false;
      await all;
    },
  };
}
