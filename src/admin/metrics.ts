import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Manager } from '../manager/manager.js';
import type { WorkerExit } from '../protocol/worker-exit.js';
import type { ReloadResult } from '../protocol/status.js';

// What the manager serves on /metrics, in Prometheus' text format (prom-client does the
// exposition): its own figures (per worker, per instance, the manager process itself), then the
// app's metrics, asked of every live worker at scrape time and summed as prom-client's
// AggregatorRegistry does (counters and histograms added, gauges by their `aggregator`). Old and
// new workers during a reload are each one process: counted once each. A worker that drains and
// exits sends its counters' last values first, and they stay in the sums: a reload is no counter
// reset. A worker that crashes takes its counts with it: a drop, which rate() and increase() read as
// a counter reset.

/** A worker that does not answer a scrape in time is left out of it. */
const WORKER_ANSWER_MS = 1000;

export class ManagerMetrics {
  readonly registry = new Registry();
  /** The counters and histograms of the workers that are gone, summed (see retire()). */
  private retired: unknown[] = [];

  constructor(private readonly manager: Manager) {
    const r = this.registry;
    // The manager process itself (prom-client's default metrics name gauges *_total, which promtool refuses).
    new Counter({ name: 'hypnode_manager_cpu_seconds_total', help: 'CPU time the manager process used, user and system', registers: [r], collect() {
      const { user, system } = process.cpuUsage();
      this.reset();
      this.inc((user + system) / 1e6);
    } });
    gauge(r, 'hypnode_manager_resident_memory_bytes', "The manager process's resident memory", [], function () {
      this.set(process.memoryUsage.rss());
    });
    gauge(r, 'hypnode_manager_heap_used_bytes', "The manager's JavaScript heap in use", [], function () {
      this.set(process.memoryUsage().heapUsed);
    });
    gauge(r, 'hypnode_manager_start_time_seconds', 'When the manager started', [], function () {
      this.set(manager.startedAt / 1000);
    });
    const perWorker = ['generation', 'slot', 'pid'] as const;
    const workers = () => manager.status().workers;
    const labels = (w: { generation: number; slot: number; pid: number }) => ({ generation: String(w.generation), slot: String(w.slot), pid: String(w.pid) });
    new Counter({
      name: 'hypnode_worker_requests_total',
      help: 'HTTP requests (and HTTP/2 streams, gRPC calls) a worker received, as of its last heartbeat (sum by instance for the total; a replaced worker is a new series)',
      labelNames: perWorker,
      registers: [r],
      collect() {
        this.reset();
        for (const w of workers()) this.inc(labels(w), w.requests);
      },
    });
    gauge(r, 'hypnode_worker_open_connections', 'Connections a worker has open', perWorker, function () {
      for (const w of workers()) this.set(labels(w), w.connections);
    });
    gauge(r, 'hypnode_worker_resident_memory_bytes', "A worker's resident memory", perWorker, function () {
      for (const w of workers()) this.set(labels(w), w.rss);
    });
    gauge(r, 'hypnode_worker_heap_used_bytes', "A worker's JavaScript heap in use", perWorker, function () {
      for (const w of workers()) this.set(labels(w), w.heapUsed);
    });
    gauge(r, 'hypnode_worker_event_loop_delay_seconds', "The 99th percentile of a worker's event loop delay over its last heartbeat interval", perWorker, function () {
      for (const w of workers()) this.set(labels(w), w.loopDelay);
    });
    gauge(r, 'hypnode_workers', 'Workers by state (starting, standby, ready, draining, drained, killing)', ['state'], function () {
      const counts = new Map<string, number>();
      for (const w of workers()) counts.set(w.state, (counts.get(w.state) ?? 0) + 1);
      for (const state of ['starting', 'standby', 'ready', 'draining', 'drained', 'killing']) this.set({ state }, counts.get(state) ?? 0);
    });
    gauge(r, 'hypnode_workers_wanted', 'Workers the current generation should have', [], function () {
      this.set(manager.status().workersWanted);
    });
    gauge(r, 'hypnode_generation', 'The current generation (1 at start, +1 per reload)', [], function () {
      this.set(manager.status().generation ?? 0);
    });
    gauge(r, 'hypnode_code_loaded_timestamp_seconds', "When the current generation's workers were started", [], function () {
      const at = manager.status().codeLoadedAt;
      if (at !== null) this.set(at / 1000);
    });
    gauge(r, 'hypnode_serving', '1 while the instance serves (what /healthz says), else 0', [], function () {
      this.set(manager.status().state === 'serving' ? 1 : 0);
    });
    const reloads = new Counter({ name: 'hypnode_reloads_total', help: 'Reloads by outcome (ok, failed)', labelNames: ['outcome'], registers: [r] });
    for (const outcome of ['ok', 'failed']) reloads.inc({ outcome }, 0);
    const refused = new Counter({ name: 'hypnode_reloads_refused_total', help: 'Reloads that failed because the new code answered worse than the old (the traffic verdict); also counted as failed reloads', registers: [r] });
    const durations = new Histogram({ name: 'hypnode_reload_duration_seconds', help: 'How long successful reloads took, from the command to the old workers gone', buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120], registers: [r] });
    const exits = new Counter({ name: 'hypnode_worker_exits_total', help: 'Workers that ended, by reason: crash, or why the manager ended them (replaced, recycled, heartbeat-timeout, ...)', labelNames: ['reason'], registers: [r] });
    exits.inc({ reason: 'crash' }, 0);
    manager.on('reload-end', (result: ReloadResult) => {
      reloads.inc({ outcome: result.ok ? 'ok' : 'failed' });
      if (!result.ok && result.code === 'TRAFFIC_REFUSED') refused.inc();
      if (result.ok) durations.observe((result.doneAt - result.startedAt) / 1000);
    });
    manager.on('worker-exit', (exit: WorkerExit, finalMetrics: unknown[] | null) => {
      exits.inc({ reason: exit.endedBy?.kind ?? 'crash' });
      if (finalMetrics) void this.retire(finalMetrics);
    });
  }

  /** Counters and histograms of workers that are gone stay in the sums; their gauges go. */
  private async retire(finalMetrics: unknown[]): Promise<void> {
    const summable = (list: unknown[]) => list.filter((m) => ['counter', 'histogram'].includes((m as { type?: string }).type ?? ''));
    this.retired = summable(await aggregate([this.retired, summable(finalMetrics)]).getMetricsAsJSON());
  }

  /** The whole exposition: the manager's metrics, then the app's summed over the workers. */
  async text(): Promise<string> {
    const own = await this.registry.metrics();
    const fromWorkers = (await this.manager.workerMetrics(WORKER_ANSWER_MS)).filter((m): m is unknown[] => m !== null);
    if (!fromWorkers.length && !this.retired.length) return own;
    return `${own}\n${await aggregate([...fromWorkers, this.retired]).metrics()}`;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** prom-client's sum of several workers' getMetricsAsJSON(). */
function aggregate(lists: unknown[][]): Registry {
  return AggregatorRegistry.aggregate(lists as Parameters<typeof AggregatorRegistry.aggregate>[0]);
}

/** A gauge whose values are read off the manager at scrape time; old label sets go. */
function gauge<L extends string>(r: Registry, name: string, help: string, labelNames: readonly L[], fill: (this: Gauge<L>) => void): void {
  new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [r],
    collect() {
      this.reset();
      fill.call(this);
    },
  });
}
