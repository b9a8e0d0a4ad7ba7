// Loaded into every worker with `node --import` before the app's own main module: it serves the
// app's listen() calls from the manager's sockets, reports readiness and heartbeats, and drains
// the app's connections when the manager (or SIGTERM, or the manager's death) says so.
import type net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { exitWhenOrphaned, leaveForegroundGroup, orWithoutAddon } from '../native.js';
import { WORKER_CONFIG_ENV, type WorkerConfig, type WorkerToManager } from '../protocol/worker.js';
import { installBridge, type MetricsSource } from './bridge.js';
import { onManagerMessage, sendAndFlush, sendToManager, startChannel, holdChannel } from './channel.js';
import { blockOnPipes } from './blocking-pipes.js';
import { ConnectionTracker } from './drain.js';
import { Balancer } from './balance.js';
import { interceptListen, pauseAccepting, resumeAccepting, startAccepting, stopAccepting, unpauseAccepting } from './listen-intercept.js';
import { writeDirectly, type DirectOutput } from './output.js';
import { Readiness } from './readiness.js';
import { probeServers, sendSample } from './ready-probe.js';
import { traffic } from './traffic.js';

/** How long a worker whose manager died may take to finish what it is doing. */
const ORPHAN_DEADLINE_MS = 1000;
/** How much later the addon's thread ends an orphan whose event loop is stuck. */
const STUCK_ORPHAN_GRACE_MS = 500;
/** How long a worker on its way out waits for its app's registry before it exits without. */
const FINAL_METRICS_MS = 500;

const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as WorkerConfig;
delete process.env[WORKER_CONFIG_ENV];

// A terminal's Ctrl-C is for the manager, which drains the workers. Without the addon the worker
// gets it too, and drains by itself (SIGINT below).
orWithoutAddon(leaveForegroundGroup, undefined);
// No output written before the worker is ready may be lost when it exits (see blocking-pipes.ts).
blockOnPipes();

let recycling = false;
function recycle(reason: string): void {
  if (recycling) return;
  recycling = true;
  sendToManager({ hypnode: 'recycle', reason });
}

const servers = new Set<net.Server>();
let output: DirectOutput | null = null;
/** The app's metrics registry, once it called exposeMetrics(). */
let metricsSource: MetricsSource | null = null;
// Sampled every 20 ms: the delay the app's own callbacks see, reported with each heartbeat.
const loopDelays = config.loopDelay ? monitorEventLoopDelay({ resolution: 20 }) : null;
loopDelays?.enable();
const tracker = new ConnectionTracker(config.idleCloseAfter);
/** Connections the app's servers accepted: --accepts may recycle. */
let accepted = 0;
const readiness = new Readiness({
  waitReady: config.waitReady,
  probe: () => (config.readyPath === null ? Promise.resolve(null) : probeServers([...servers].filter((s) => s.listening), config.readyPath)),
  ready: () => {
    // From here on the app's output goes straight to the manager's sinks (see output.ts).
    if (config.output) output = orWithoutAddon(() => writeDirectly(config.output!, { generation: config.generation, pid: process.pid }), null);
    sendToManager({ hypnode: 'ready' });
  },
  notReady: (reason) => sendToManager({ hypnode: 'not-ready', reason }),
});

const balancer = config.balance ? new Balancer(config.balance, { open: () => tracker.open, pause: pauseAccepting, resume: unpauseAccepting }) : null;

interceptListen(
  {
    requested(server) {
      servers.add(server);
      tracker.track(server);
      readiness.requested();
    },
    settled: (ok) => readiness.settled(ok),
    accepted() {
      balancer?.accepted();
      if (config.accepts > 0 && ++accepted >= config.accepts) recycle(`accepted ${accepted} connections`);
    },
  },
  { pausable: balancer !== null },
);

// PM2's way to say ready goes to the manager over IPC; here it feeds the same readiness.
const send = process.send?.bind(process);
if (send) {
  process.send = function (message: unknown, ...rest: unknown[]): boolean {
    if (message === 'ready') {
      readiness.said();
      return true;
    }
    return (send as (...args: unknown[]) => boolean)(message, ...rest);
  } as typeof process.send;
}

const drainListeners: (() => void)[] = [];
type Drain = 'none' | 'draining' | 'lingering';
let drainState: Drain = 'none';
/** Once drained: exit, or wait for the manager's `exit` (or `resume`). */
let lingerWhenDrained = false;
let lingerHold: (() => void) | null = null;

function drain(linger: boolean): void {
  lingerWhenDrained = linger;
  if (drainState !== 'none') return;
  drainState = 'draining';
  balancer?.stop();
  stopAccepting();
  // A lingering worker has nothing else to keep it alive once its connections are gone.
  lingerHold ??= holdChannel();
  tracker.drain(
    () => {
      for (const listener of drainListeners) {
        try {
          listener();
        } catch (err) {
          console.error('hypnode: onDrain listener threw:', err);
        }
      }
    },
    () => sendToManager({ hypnode: 'stopped-accepting' }),
    () => {
      if (!lingerWhenDrained) return void exitDone();
      drainState = 'lingering';
      sendToManager({ hypnode: 'drained' });
    },
  );
}

/** A stop from outside the manager (SIGTERM, a dead manager): drain and exit, lingering or not. */
function drainAndExit(): void {
  if (drainState === 'lingering') process.exit(0);
  drain(false);
}

async function resume(): Promise<void> {
  if (drainState === 'none') return;
  drainState = 'none';
  tracker.resume();
  await resumeAccepting();
  balancer?.start();
  lingerHold?.();
  lingerHold = null;
  sendToManager({ hypnode: 'accepting' });
}

installBridge({
  generation: config.generation,
  slot: config.slot,
  get draining() {
    return drainState !== 'none';
  },
  ready: () => readiness.said(),
  holdReady: () => readiness.hold(),
  onDrain: (listener) => void drainListeners.push(listener),
  exposeMetrics: (source) => void (metricsSource = source),
});

function beat(): WorkerToManager & { hypnode: 'heartbeat' } {
  const mem = process.memoryUsage();
  // Nanoseconds; 0 before the histogram has a sample.
  const loopDelay = loopDelays && loopDelays.count > 0 ? loopDelays.percentile(99) / 1e9 : 0;
  loopDelays?.reset();
  return { hypnode: 'heartbeat', stats: { rss: mem.rss, heapUsed: mem.heapUsed, requests: tracker.requests, connections: tracker.open, linesDropped: output?.dropped ?? 0, loopDelay, traffic } };
}

const heartbeat = setInterval(() => {
  const msg = beat();
  sendToManager(msg);
  const { rss } = msg.stats;
  if (config.maxRss > 0 && rss > config.maxRss * 1024 * 1024) recycle(`resident memory ${Math.round(rss / 1048576)} MiB above ${config.maxRss} MiB`);
}, config.heartbeatInterval * 1000);
heartbeat.unref();

onManagerMessage((msg) => {
  switch (msg.hypnode) {
    case 'accept':
      startAccepting();
      balancer?.start();
      sendToManager({ hypnode: 'accepting' });
      return;
    case 'drain':
      return drain(msg.linger);
    case 'resume':
      return void resume();
    case 'exit':
      return void exitDone();
    case 'reopen-output':
      return output?.reopen();
    case 'write-directly':
      return output?.release();
    case 'metrics':
      return void sendMetrics(msg.id);
    case 'sample':
      if (config.readyPath !== null) void sendSample([...servers].filter((s) => s.listening), config.readyPath, msg.count);
      return;
  }
});
// systemd's KillMode=control-group sends SIGTERM to every worker along with the manager: drain.
process.on('SIGTERM', drainAndExit);
process.on('SIGINT', drainAndExit);
process.on('disconnect', () => {
  drainAndExit();
  setTimeout(() => process.exit(1), ORPHAN_DEADLINE_MS).unref();
});
// The disconnect above reaches only a worker whose event loop runs: one stuck in the app's endless
// loop would outlive its manager for good (outside systemd, whose control group ends it anyway).
orWithoutAddon(() => exitWhenOrphaned(config.managerPid, ORPHAN_DEADLINE_MS + STUCK_ORPHAN_GRACE_MS), undefined);
startChannel();

async function appMetrics(): Promise<unknown[] | null> {
  try {
    return metricsSource ? await metricsSource.getMetricsAsJSON() : null;
  } catch {
    // A registry that fails to collect counts as none this time: the scrape goes on without it.
    return null;
  }
}

async function sendMetrics(id: number): Promise<void> {
  sendToManager({ hypnode: 'metrics', id, metrics: await appMetrics() });
}

/**
 * The worker is done (drained, or released): its counters' last values go to the manager (id 0),
 * which keeps them in the sums it serves, so that a reload is no counter reset. Then it exits.
 */
async function exitDone(): Promise<void> {
  if (metricsSource) {
    const metrics = await Promise.race([appMetrics(), new Promise<null>((r) => setTimeout(r, FINAL_METRICS_MS, null))]);
    if (metrics) await sendAndFlush({ hypnode: 'metrics', id: 0, metrics });
  }
  // The output it still holds is written (or dropped) now, and the manager told the last count.
  if (output) {
    output.finish();
    await sendAndFlush(beat());
  }
  process.exit(0);
}
