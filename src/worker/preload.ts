// Loaded into every worker with `node --import` before the app's own main module: it serves the
// app's listen() calls from the manager's sockets, reports readiness and heartbeats, and drains
// the app's connections when the manager (or SIGTERM, or the manager's death) says so.
import { exitWhenOrphaned, leaveForegroundGroup, NativeAddonError } from '../native.js';
import { installBridge } from './bridge.js';
import { onManagerMessage, sendToManager, startChannel } from './channel.js';
import { ConnectionTracker } from './drain.js';
import { interceptListen } from './listen-intercept.js';
import { WORKER_CONFIG_ENV, type WorkerConfig } from './messages.js';
import { Readiness } from './readiness.js';

/** How long a worker whose manager died may take to finish what it is doing. */
const ORPHAN_DEADLINE_MS = 1000;
/** How much later the addon's thread ends an orphan whose event loop is stuck. */
const STUCK_ORPHAN_GRACE_MS = 500;

const config = JSON.parse(process.env[WORKER_CONFIG_ENV] ?? '{}') as WorkerConfig;
delete process.env[WORKER_CONFIG_ENV];

// A terminal's Ctrl-C is for the manager, which drains the workers. Without the addon the worker
// gets it too, and drains by itself (SIGINT below).
withAddon(leaveForegroundGroup);

let recycling = false;
function recycle(reason: string): void {
  if (recycling) return;
  recycling = true;
  sendToManager({ hypnode: 'recycle', reason });
}

const tracker = new ConnectionTracker(config.idleCloseAfter, (accepted) => {
  if (config.accepts > 0 && accepted >= config.accepts) recycle(`accepted ${accepted} connections`);
});
const readiness = new Readiness(config.waitReady, () => sendToManager({ hypnode: 'ready' }));

interceptListen({
  requested(server) {
    tracker.track(server);
    readiness.requested();
  },
  settled: (ok) => readiness.settled(ok),
});

const drainListeners: (() => void)[] = [];
let draining = false;

function drain(): void {
  if (draining) return;
  draining = true;
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
    () => process.exit(0),
  );
}

installBridge({
  generation: config.generation,
  get draining() {
    return draining;
  },
  ready: () => process.send?.('ready'),
  holdReady: () => readiness.hold(),
  onDrain: (listener) => void drainListeners.push(listener),
});

const heartbeat = setInterval(() => {
  const mem = process.memoryUsage();
  sendToManager({
    hypnode: 'heartbeat',
    stats: { rss: mem.rss, heapUsed: mem.heapUsed, requests: tracker.requests, connections: tracker.open, accepted: tracker.accepted },
  });
  if (config.maxRss > 0 && mem.rss > config.maxRss * 1024 * 1024) recycle(`resident memory ${Math.round(mem.rss / 1048576)} MiB above ${config.maxRss} MiB`);
}, config.heartbeatInterval * 1000);
heartbeat.unref();

onManagerMessage((msg) => {
  if (msg.hypnode === 'drain') drain();
});
// systemd's KillMode=control-group sends SIGTERM to every worker along with the manager: drain.
process.on('SIGTERM', drain);
process.on('SIGINT', drain);
process.on('disconnect', () => {
  drain();
  setTimeout(() => process.exit(1), ORPHAN_DEADLINE_MS).unref();
});
// The disconnect above reaches only a worker whose event loop runs: one stuck in the app's endless
// loop would outlive its manager for good (outside systemd, whose control group ends it anyway).
withAddon(() => exitWhenOrphaned(config.managerPid, ORPHAN_DEADLINE_MS + STUCK_ORPHAN_GRACE_MS));
startChannel();

/** Runs what needs the native addon; without it (not built, not Linux) the worker does without. */
function withAddon(call: () => void): void {
  try {
    call();
  } catch (err) {
    if (!(err instanceof NativeAddonError)) throw err;
  }
}
