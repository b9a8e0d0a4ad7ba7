import { writeFileSync } from 'node:fs';
import { hypnode } from './contenders/hypnode.js';
import type { Instance } from './contenders/types.js';
import { waitForAnswer } from './http.js';
import type { Plan } from './options.js';
import { mb, tree, treeRssBytes } from './proc.js';
import { progress, sleep } from './progress.js';
import { openRunDir } from './run-dir.js';
import { ms } from './stats.js';

// hypnode with more workers of an app that holds memory: how long a reload takes and how much
// memory the machine needs while both generations are alive (RSS of the manager and all workers,
// sampled from /proc, so shared pages count once per process, as the kernel's OOM killer sees it).

const BOOT_CAP_MS = 120_000;
const SAMPLE_EVERY_MS = 50;
const SETTLE_CAP_MS = 15_000;

export interface ScaleReload {
  code: number | null;
  ms: number;
  peakRssMb: number;
}

export interface ScalePoint {
  workers: number;
  startupMs: number | null;
  /** From start until every worker holds its memory. */
  bootedMs: number | null;
  steadyRssMb: number | null;
  reloads: ScaleReload[];
  error: string | null;
}

export async function runScale(workers: number, plan: Plan): Promise<ScalePoint> {
  const say = (message: string) => progress(`scale ${workers} workers: ${message}`);
  const run = await openRunDir(`scale${workers}`, workers, plan.commandCapMs, { BENCH_ALLOC_MB: String(plan.scaleAllocMb) });
  const point: ScalePoint = { workers, startupMs: null, bootedMs: null, steadyRssMb: null, reloads: [], error: null };
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
      const r = await instance.reload!().finally(() => clearInterval(sampler));
      point.reloads.push({ code: r.code, ms: r.ms, peakRssMb: mb(peak) });
      say(`reload exit ${r.code} after ${ms(r.ms)}, peak ${mb(peak).toFixed(0)} MB`);
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
