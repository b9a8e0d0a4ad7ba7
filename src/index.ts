// The small API an app may use under hypnode. Every function is harmless when the app runs
// without hypnode, so the same code runs under `node app.js` too.
import { getBridge, type MetricsSource } from './worker/bridge.js';

/** True when this process is a hypnode worker. */
export function isWorker(): boolean {
  return getBridge() !== undefined;
}

/** The generation this worker belongs to (1 for the first start, +1 for every reload), or 0. */
export function generation(): number {
  return getBridge()?.generation ?? 0;
}

/**
 * This worker's slot, 0 to workers-1 (also in HYPNODE_WORKER_INDEX and PM2's NODE_APP_INSTANCE);
 * 0 outside hypnode, where the one process is the one to run a job. A replacement (crash, recycling, reload) takes the slot of the worker it
 * replaces, so `workerIndex() === 0` picks one worker for a scheduled job; during a reload the old
 * slot 0 drains while the new slot 0 starts (stop the job in onDrain).
 */
export function workerIndex(): number {
  return getBridge()?.slot ?? 0;
}

/**
 * Tell the manager this worker is ready. Needed only with `waitReady`; the same as PM2's
 * `process.send('ready')`.
 */
export function ready(): void {
  getBridge()?.ready();
}

/**
 * Keep the worker from counting as ready (even once it listens) until the returned function is
 * called: for work that must finish before traffic arrives, such as warming a cache.
 */
export function holdReady(): () => void {
  return getBridge()?.holdReady() ?? (() => {});
}

/**
 * Run `listener` when this worker starts to drain (a reload or stop), before it stops accepting:
 * the moment to close WebSockets with 1001 or end server-sent event streams.
 */
export function onDrain(listener: () => void): void {
  getBridge()?.onDrain(listener);
}

/**
 * Serve this registry's metrics (prom-client's `register`, or a Registry of the app's) on the
 * manager's `--admin` address, summed over every worker as prom-client's AggregatorRegistry does:
 * one line in the app, no code in any primary. Harmless without hypnode.
 */
export function exposeMetrics(registry: MetricsSource): void {
  getBridge()?.exposeMetrics(registry);
}

/** True once this worker has started to drain. */
export function isDraining(): boolean {
  return getBridge()?.draining ?? false;
}
