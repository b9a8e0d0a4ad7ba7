import { secs } from '../durations.js';
import type { StartFailure } from '../manager/generation.js';
import type { ListenerRegistry } from '../manager/listeners.js';
import type { Manager } from '../manager/manager.js';
import type { ListenKey } from '../protocol/listen-key.js';
import type { ReloadResult, UpgradeResult } from '../protocol/status.js';
import type { SystemdNotifier } from './notify.js';

// Tells systemd what the manager does, in sd_notify's words: READY=1 when the first generation
// serves, RELOADING=1 and READY=1 around every reload, STOPPING=1, a STATUS= line a person wants
// to read, EXTEND_TIMEOUT_USEC while a long start, reload or stop makes progress, and the
// listening sockets into the fd store so that a restart or a crash of the manager refuses no
// connection. An upgrade of the manager is a reload to systemd, ended by the old manager's
// MAINPID= for the new one. Outside systemd the notifier is disabled and all of this is silent.

/** How much more time each sign of progress buys a start, reload or stop. */
const EXTEND_BY_USEC = 30_000_000;

/**
 * `successor`: this manager took over from another by an upgrade and is the main process now:
 * systemd knows it is ready (`told`: its predecessor said so), or hears it from this one
 * (`claims`: the predecessor died before it could).
 */
export function attachSystemd(manager: Manager, registry: ListenerRegistry, notifier: SystemdNotifier, warn: (text: string) => void, successor: 'told' | 'claims' | null = null): void {
  if (!notifier.enabled) return;
  notifier.startWatchdog();
  // A notification that cannot be sent (the socket out of the unit's reach, say) must not bring
  // the manager down: it is said in the log, once per kind of failure, and the manager goes on.
  const failures = new Set<string>();
  const tell = (what: () => void) => () => {
    try {
      what();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      if (failures.has(code)) return;
      failures.add(code);
      warn(`cannot notify systemd: ${(err as Error).message} (more such failures are not logged)`);
    }
  };
  let lastReload = 'no reload yet';
  let progress = -1;
  /** Why the first start gave up: the status systemd keeps showing once the manager is gone. */
  let gaveUp: string | null = null;
  const line = () => {
    if (gaveUp) return gaveUp;
    const s = manager.status();
    const failing = s.state === 'failing' ? ' (FAILING: no worker serves)' : '';
    return `generation ${s.generation ?? '-'}: ${s.workersReady}/${s.workersWanted} workers ready${failing}; ${lastReload}`;
  };
  // Only the manager's own sockets: a socket unit's are kept by systemd already. Storing one
  // again is harmless (systemd keeps no duplicates); one the code no longer listens on leaves.
  const stored = new Set<string>();
  const storeSockets = () => {
    const now = new Set<string>();
    for (const s of registry.list()) {
      if (s.inherited) continue;
      const name = fdName(s.key);
      now.add(name);
      notifier.fdStore(name, [s.fd], { poll: false });
    }
    for (const name of stored) if (!now.has(name)) notifier.fdStoreRemove(name);
    stored.clear();
    for (const name of now) stored.add(name);
  };

  manager.on('changed', tell(() => {
    const s = manager.status();
    // Progress: workers becoming ready (start, reload), or workers gone (stop).
    const now = s.state === 'stopping' ? -s.workers.length : s.workersReady;
    if ((s.state !== 'serving' || s.reloading) && now > progress) notifier.extendTimeout(EXTEND_BY_USEC);
    progress = now;
    notifier.status(line());
  }));
  manager.on('serving', tell(() => {
    storeSockets();
    notifier.ready(line());
  }));
  manager.on('start-failed', (f: StartFailure) => tell(() => {
    const words = f.output.trimEnd().split('\n').at(-1)?.trim();
    gaveUp = `FAILED to start: ${f.message}${words ? `: ${words}` : ''}`;
    notifier.status(gaveUp);
  })());
  manager.on('reload-start', tell(() => {
    progress = -1;
    notifier.reloading();
  }));
  manager.on('reload-end', (r: ReloadResult) => tell(() => {
    lastReload = r.ok
      ? `last reload ${new Date(r.startedAt).toISOString()} ok in ${secs(r.doneAt - r.startedAt)}`
      : `last reload ${new Date(r.startedAt).toISOString()} FAILED: ${r.error}`;
    storeSockets();
    notifier.ready(line());
  })());
  manager.on('upgrade-start', tell(() => {
    progress = -1;
    notifier.reloading('upgrading the manager');
  }));
  manager.on('upgrade-end', (r: UpgradeResult) => tell(() => {
    if (!r.ok) lastReload = `last upgrade ${new Date(r.startedAt).toISOString()} FAILED: ${r.error}`;
    notifier.ready(line());
  })());
  manager.on('hand-over', (pid: number) => tell(() => notifier.handOver(pid, `manager ${pid} takes over (upgrade)`))());
  if (successor) {
    const s = manager.status();
    if (s.lastUpgrade?.ok) lastReload = `upgraded ${new Date(s.lastUpgrade.doneAt).toISOString()} from manager ${s.lastUpgrade.from.pid}`;
    tell(() => {
      storeSockets();
      if (successor === 'claims') notifier.claimMain(line());
      else notifier.status(line());
    })();
  }
  manager.on('stopping', tell(() => {
    progress = -Infinity;
    notifier.stopWatchdog();
    notifier.stopping();
  }));
}

/** A name systemd accepts (printable ASCII without ':', at most 255) and that tells the socket apart. */
export function fdName(key: ListenKey): string {
  const raw = key.kind === 'unix' ? `unix-${key.path}` : `tcp-${key.host ?? 'any'}-${key.port}`;
  return raw.replace(/[^\x21-\x7e]|:/g, '_').slice(0, 255);
}
