import { burn } from './apps/burn.js';
import type { Plan } from './options.js';
import { runPools, type PoolRun } from './pools.js';
import { progress } from './progress.js';
import { median } from './stats.js';

// The pools case where the spread costs throughput: 2 workers of an app that burns a fixed amount
// of CPU per request (./apps/burn.ts) on a 2-core machine, a proxy's few keep-alive connections.
// Where one worker holds most of them, that worker's core is saturated and the other idles, so
// requests per second and p99 show the balance, not only the tally of pids.

/** PBKDF2 iterations per request: about 1 ms of CPU on the machine of the published runs. */
const CPU_ITERATIONS = 5000;
const CALIBRATION_CALLS = 50;

export interface CpuRun {
  iterations: number;
  /** One request's work in the rig's own process, median of CALIBRATION_CALLS: what the iterations cost here. */
  burnMs: number;
  runs: PoolRun[];
}

export async function runCpu(plan: Plan): Promise<CpuRun> {
  const burnMs = calibrate();
  progress(`cpu: ${CPU_ITERATIONS} PBKDF2 iterations take ${burnMs.toFixed(2)} ms here`);
  const runs = await runPools(plan, { label: 'cpu', workers: [2], connections: [4, 8, 16], env: { BENCH_CPU_ITERATIONS: String(CPU_ITERATIONS) } });
  return { iterations: CPU_ITERATIONS, burnMs, runs };
}

function calibrate(): number {
  const took = Array.from({ length: CALIBRATION_CALLS }, () => {
    const started = performance.now();
    burn(CPU_ITERATIONS);
    return performance.now() - started;
  });
  return median(took) ?? 0;
}
