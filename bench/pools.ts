import http from 'node:http';
import { CONTENDERS } from './contenders/index.js';
import type { Instance } from './contenders/types.js';
import { request, waitForAnswer } from './http.js';
import type { Plan } from './options.js';
import { progress } from './progress.js';
import { openRunDir } from './run-dir.js';

// How evenly a few persistent connections spread over the workers, as a reverse proxy's upstream
// pool keeps them (8, 16, 32 connections on 4 and 8 workers): each connection stays with the
// worker that accepted it, so the spread of connections is the spread of the load. Each client
// sends its next request as soon as the previous is answered, for the duration; tallied by the
// pid that answered, with every request's latency. Other cases (the CPU-bound one) measure the
// same way with their own workers, connections and app.

export interface PoolCase {
  /** Names the case's runs in progress lines and temporary directories. */
  label: string;
  workers: readonly number[];
  connections: readonly number[];
  /** The app's environment beyond the rig's own (what the app does per request). */
  env: Record<string, string>;
}

const POOLS: PoolCase = { label: 'pools', workers: [4, 8], connections: [8, 16, 32], env: {} };
const NAMES = ['cluster-rr', 'cluster-none', 'hypnode', 'hypnode-unbalanced'];
const BOOT_CAP_MS = 30_000;

export interface PoolRun {
  contender: string;
  workers: number;
  connections: number;
  requests: number;
  failed: number;
  /** Connections accepted per worker, busiest first (workers that got none count as 0). */
  connectionsPerWorker: number[];
  /** The busiest worker's share of the requests answered, 0..1. */
  busiestShare: number;
  p99Ms: number;
  error: string | null;
}

export async function runPools(plan: Plan, pool: PoolCase = POOLS): Promise<PoolRun[]> {
  const runs: PoolRun[] = [];
  const contenders = CONTENDERS.filter((c) => NAMES.includes(c.name) && !c.missing());
  for (let round = 0; round < plan.repetitions; round++) {
    for (const workers of pool.workers) {
      for (const c of contenders) {
        progress(`${pool.label}: ${c.name}, ${workers} workers, round ${round + 1}`);
        const run = await openRunDir(`${pool.label}-${c.name}`, workers, plan.commandCapMs, pool.env);
        let instance: Instance | null = null;
        try {
          instance = await c.start(run.setup);
          if (!(await waitForAnswer(run.setup.port, BOOT_CAP_MS))) throw new Error('no answer');
          // Every worker up (the first answer may come from the first worker alone).
          await new Promise((r) => setTimeout(r, plan.settleMs));
          for (const connections of pool.connections) runs.push(await measure(c.name, run.setup.port, workers, connections, plan.wrkSeconds * 1000));
        } catch (err) {
          runs.push({ contender: c.name, workers, connections: 0, requests: 0, failed: 0, connectionsPerWorker: [], busiestShare: 0, p99Ms: 0, error: `${(err as Error).message}\n${run.logs()}` });
        } finally {
          await instance?.stop().catch(() => {});
          await run.close();
        }
      }
    }
  }
  return runs;
}

async function measure(contender: string, port: number, workers: number, connections: number, durationMs: number): Promise<PoolRun> {
  const requestsPerPid = new Map<string, number>();
  const connectionsPerPid = new Map<string, number>();
  const latencies: number[] = [];
  let failed = 0;
  const deadline = Date.now() + durationMs;
  const client = async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    let first = true;
    while (Date.now() < deadline) {
      const started = performance.now();
      const answer = await request(port, { agent, timeoutMs: 5000 }).catch(() => null);
      if (!answer?.pid || answer.status !== 200) {
        failed++;
        continue;
      }
      latencies.push(performance.now() - started);
      requestsPerPid.set(answer.pid, (requestsPerPid.get(answer.pid) ?? 0) + 1);
      if (first) connectionsPerPid.set(answer.pid, (connectionsPerPid.get(answer.pid) ?? 0) + 1);
      first = false;
    }
    agent.destroy();
  };
  await Promise.all(Array.from({ length: connections }, client));
  const answered = latencies.length;
  const perWorker = [...connectionsPerPid.values()].sort((a, b) => b - a);
  while (perWorker.length < workers) perWorker.push(0);
  latencies.sort((a, b) => a - b);
  return {
    contender,
    workers,
    connections,
    requests: answered,
    failed,
    connectionsPerWorker: perWorker,
    busiestShare: answered ? Math.max(...requestsPerPid.values()) / answered : 0,
    p99Ms: latencies[Math.min(answered - 1, Math.floor(answered * 0.99))] ?? 0,
    error: null,
  };
}
