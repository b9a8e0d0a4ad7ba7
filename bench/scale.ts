import { writeFileSync } from 'node:fs';
import { hypnode } from './contenders/hypnode.js';
import type { Instance } from './contenders/types.js';
import { waitForAnswer } from './http.js';
import type { Plan } from './options.js';
import { startLoad } from '../tools/load.js';
import { mb, tree, treeRssBytes } from './proc.js';
import { progress, sleep } from './progress.js';
import { openRunDir } from './run-dir.js';
import { ms } from './stats.js';

// hypnode with more workers of an app that holds memory: how long a reload takes and how much
// memory the machine needs while both generations are alive (RSS of the manager and all workers,
// sampled from /proc, so shared pages count once per process, as the kernel's OOM killer sees it),
// for a reload of every worker at once and for batched reloads (--reload-batch), each under a
// light load whose failed requests are counted.

const BOOT_CAP_MS = 120_000;
const SAMPLE_EVERY_MS = 50;
const SETTLE_CAP_MS = 15_000;
/** Light, so that the figures are the reload's: 2 clients on keep-alive, 2 on new connections, 5% slow requests. */
const LOAD = { keepAliveClients: 2, newConnectionClients: 2, slowEvery: 20 };

export interface ScaleReload {
  code: number | null;
  ms: number;
  peakRssMb: number;
  requests: number;
  failed: number;
}

export interface ScalePoint {
  workers: number;
  /** --reload-batch: a count, a percentage, or "all". */
  batch: string;
  startupMs: number | null;
  /** From start until every worker holds its memory. */
  bootedMs: number | null;
  steadyRssMb: number | null;
  reloads: ScaleReload[];
  error: string | null;
}

/** The batch sizes measured at a number of workers: batches only where they differ from all at once. */
export function scaleBatches(workers: number): string[] {
  return workers >= 8 ? ['all', '25%', '1'] : ['all'];
}

export async function runScale(workers: number, batch: string, plan: Plan): Promise<ScalePoint> {
  const say = (message: string) => progress(`scale ${workers} workers, batch ${batch}: ${message}`);
  const run = await openRunDir(`scale${workers}`, workers, plan.commandCapMs, { BENCH_ALLOC_MB: String(plan.scaleAllocMb), ...(batch === 'all' ? {} : { HYPNODE_RELOAD_BATCH: batch }) });
  const point: ScalePoint = { workers, batch, startupMs: null, bootedMs: null, steadyRssMb: null, reloads: [], error: null };
  let instance: Instance | null = null;
  try {
    const started = performance.now();
    instance = await hypnode.start(run.setup);
    if (!(await waitForAnswer(run.setup.port, BOOT_CAP_MS))) throw new Error('no answer');
    point.startupMs = performance.now() - started;
    const manager = instance.managerPid();
    if (manager === null) throw new Error('no manager pid');
    await waitBooted(manager, workers, plan.scaleAllocMb);
    point.bootedMs = performance.now() - started;
    point.steadyRssMb = mb(await settledRss(manager));
    say(`first answer ${ms(point.startupMs)}, all booted ${ms(point.bootedMs)}, ${point.steadyRssMb.toFixed(0)} MB`);

    for (let i = 0; i < plan.scaleReloads; i++) {
      writeFileSync(run.versionFile, `${i + 2}\n`);
      let peak = 0;
      const sampler = setInterval(() => (peak = Math.max(peak, treeRssBytes(manager))), SAMPLE_EVERY_MS);
      const load = startLoad({ port: run.setup.port, durationMs: plan.commandCapMs, maxRequests: 1_000_000, ...LOAD });
      const r = await instance.reload!().finally(() => clearInterval(sampler));
      const result = await load.stop();
      point.reloads.push({ code: r.code, ms: r.ms, peakRssMb: mb(peak), requests: result.total, failed: result.failed });
      say(`reload exit ${r.code} after ${ms(r.ms)}, peak ${mb(peak).toFixed(0)} MB, ${result.failed} of ${result.total} requests failed`);
      if (r.code !== 0) throw new Error(`reload failed: ${r.output}`);
    }
  } catch (err) {
    point.error = `${(err as Error).message}\n${run.logs()}`.trim();
    say(`error: ${point.error}`);
  } finally {
    await instance?.stop().catch((err: Error) => say(`stop failed: ${err.message}`));
    await run.close();
  }
  return point;
}

/** Until the manager has its workers and together they hold at least the memory the app allocates. */
async function waitBooted(manager: number, workers: number, allocMb: number): Promise<void> {
  const deadline = performance.now() + BOOT_CAP_MS;
  while (tree(manager).length < workers + 1 || mb(treeRssBytes(manager)) < workers * allocMb) {
    if (performance.now() > deadline) throw new Error(`${workers} workers did not boot within ${BOOT_CAP_MS / 1000} s`);
    await sleep(100);
  }
}

/** Workers keep growing a little after they listen (code loaded lazily): the RSS once it holds still. */
async function settledRss(manager: number): Promise<number> {
  const deadline = performance.now() + SETTLE_CAP_MS;
  let last = treeRssBytes(manager);
  for (;;) {
    await sleep(250);
    const now = treeRssBytes(manager);
    if (Math.abs(now - last) < now * 0.01 || performance.now() > deadline) return now;
    last = now;
  }
}
