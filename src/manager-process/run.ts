import { closeSync } from 'node:fs';
import type { AdminServer } from '../admin/server.js';
import { Deployment } from '../config/deployment.js';
import { exposureWarnings } from '../config/file-exposure.js';
import type { Resolved, SettingSources } from '../config/resolve.js';
import { ControlServer } from '../control/server.js';
import { StartFailure } from '../manager/generation.js';
import { endAdopted, endWorkerGroup } from '../manager/leftovers.js';
import { ListenerRegistry } from '../manager/listeners.js';
import { consoleLogger, type Logger } from '../manager/log.js';
import { adoptOutputLock } from '../manager/log-sink.js';
import { Manager } from '../manager/manager.js';
import { ownChildren, reapOrphans } from '../manager/orphan-reaper.js';
import { outputsEnded } from '../manager/output-tail.js';
import { removePidFile, writePidFile } from '../manager/pid-file.js';
import type { InstancePaths } from '../protocol/control.js';
import type { ManagerIdentity } from '../protocol/upgrade.js';
import { attachSystemd } from '../systemd/attach.js';
import { inheritedSockets } from '../systemd/inherited.js';
import { SystemdNotifier } from '../systemd/notify.js';
import type { Handover } from '../upgrade/handover.js';
import { startedNode } from '../upgrade/node-path.js';
import type { UpgradeContext, upgradeManager as UpgradeManager } from '../upgrade/upgrade.js';
import { HYPNODE_VERSION } from '../version.js';
import { commandRouter, type UpgradeCommand } from './commands.js';
import { handleSignals } from './signals.js';

// The manager process, put together: this process becomes the manager and runs until a stop, or
// until an upgrade hands everything to a new manager. Started by such an upgrade (see
// upgrade/handover), it takes over from the old manager instead of starting afresh.

export interface ManagerRun {
  /** The app, its settings, and where its control socket is (in an upgrade, where the old manager's was). */
  instance: Resolved & { app: string; sources: SettingSources; paths: InstancePaths };
  handover: Handover | null;
  /** --log-file, absolute. */
  logFile: string | null;
  /** Tells whoever waits for the first generation to serve (a --daemon parent), or (`failed: ...`) why it never will. */
  starter: ((word?: string) => void) | null;
}

/** Runs the manager until it stops or hands over; resolves to the process's exit status. */
export async function runManager({ instance, handover, logFile, starter }: ManagerRun): Promise<number> {
  const { app, settings, sources, paths } = instance;
  const pidFile = handover ? handover.handoff.pidFile : settings.pidFile;
  const deployment = new Deployment(app, sources);
  const plan = deployment.planFor(settings);
  const self: ManagerIdentity = { pid: process.pid, hypnode: HYPNODE_VERSION, node: process.version, nodePath: startedNode() };
  // Before any worker exists: both take their variables out of the environment workers inherit.
  const notifier = new SystemdNotifier();
  const registry = new ListenerRegistry();
  registry.adopt(inheritedSockets());
  if (handover) {
    registry.adopt(handover.handoff.sockets);
    // The old manager still holds these: until the commit, closing them must not remove their paths.
    registry.ownsPaths = false;
    if (handover.handoff.outputLockFd !== null) adoptOutputLock(handover.handoff.outputLockFd);
  }
  const log = consoleLogger(logFile);
  const manager = new Manager(deployment, plan, registry, log, { runtime: { hypnode: self.hypnode, node: self.node, nodePath: self.nodePath }, firstGeneration: handover?.handoff.generation });
  const reaping = reapOrphans(() => manager.workerPids());
  if (reaping) log.warn(reaping);
  for (const warning of exposureWarnings(instance)) log.warn(warning);
  manager.on('worker-exit', (exit) => endWorkerGroup(exit.pid, (pid) => manager.workerPids().has(pid)));

  let control: ControlServer | null = null;
  let admin: AdminServer | null = null;
  const context = (): UpgradeContext => ({
    manager, registry, control: control!, admin, self, startedNode: self.nodePath,
    cli: process.argv[1]!, args: process.argv.slice(2), cwd: sources.cwd,
    env: { ...process.env, ...notifier.successorEnv() }, pidFile,
    probationMs: manager.settings.probation * 1000, timeoutMs: manager.settings.readyTimeout * 1000,
  });
  const upgrade: UpgradeCommand = (node, progress) => upgradeManager(context(), node, progress);
  const handle = commandRouter(manager, upgrade);
  const warn = (text: string) => log.warn(text);
  handleSignals(manager, log, () => (control ? upgrade : null));

  if (handover) {
    const { from } = handover.handoff;
    log.info(`taking over from manager ${from.pid} (hypnode ${from.hypnode}, Node ${from.node}): hypnode ${self.hypnode}, Node ${self.node} (${self.nodePath})`);
    const outcome = await handover.run(manager, self, {
      claimPidFile: () => {
        if (pidFile) writePidFile(pidFile, process.pid, from.pid);
      },
      main: async (result, orphaned) => {
        if (orphaned) log.warn(`the old manager ${from.pid} died during the upgrade, ${orphaned}: this manager completes the takeover by itself`);
        registry.ownsPaths = true;
        manager.lastUpgrade = result;
        control = await ControlServer.adopt(paths, handover.handoff.control, handle, warn);
        admin = await adoptAdmin(settings.admin, handover.handoff.admin, manager);
        attachSystemd(manager, registry, notifier, warn, orphaned ? 'claims' : 'told');
        log.info(`manager ${process.pid} serves: the upgrade from manager ${from.pid} is done`);
      },
    });
    if (!outcome.main) {
      log.error(outcome.why);
      await manager.stop('fast');
      await endLeftovers(manager, log);
      await outputsEnded(OUTPUT_END_MS);
      log.close();
      return 1;
    }
  } else {
    attachSystemd(manager, registry, notifier, warn);
    control = await ControlServer.listen(paths, handle, warn);
    try {
      admin = await adoptAdmin(settings.admin, null, manager);
    } catch (err) {
      control.close();
      throw err;
    }
    log.info(`manager ${process.pid}: hypnode ${self.hypnode}, Node ${self.node} (${self.nodePath})`);
    if (pidFile) writePidFile(pidFile);
    if (starter) manager.once('serving', () => starter());
    manager.start().catch((err: unknown) => {
      // Given up (--start-tries): the manager stops, and a waiting --daemon parent hears why.
      if (!(err instanceof StartFailure)) throw err;
      starter?.(`failed: ${err.message}\n${err.output}`);
    });
  }
  await manager.stopped;
  await endLeftovers(manager, log);
  if (manager.handedOver) {
    // The successor holds the sockets, the control socket and the PID file now: nothing to undo.
    // The last answers (the upgrade's own) reach their clients first.
    await control?.left;
    log.close();
    return 0;
  }
  control?.close();
  admin?.close();
  if (pidFile) removePidFile(pidFile);
  await outputsEnded(OUTPUT_END_MS);
  log.close();
  // A manager stopped before its app ever served did not do its job: say so to whoever waits (a container runtime).
  return manager.hasServed ? 0 : 1;
}

/** How long an exiting manager reads its workers' pipes for lines still in them, at most. */
const OUTPUT_END_MS = 5000;

/** What the app started and left behind ends with the manager (see manager/leftovers.ts). */
async function endLeftovers(manager: Manager, log: Logger): Promise<void> {
  const { ended, stuck } = await endAdopted(() => ownChildren(manager.workerPids()));
  if (ended.length > 0) log.info(`ended ${ended.length} processes the app had left behind (pids ${ended.join(', ')})`);
  if (stuck.length > 0) log.warn(`processes the app left behind outlive the manager: SIGKILL did not end pids ${stuck.join(', ')}`);
}

/**
 * --admin, if set; a successor goes on with its predecessor's socket unless the address changed
 * (the config file's). Loaded only then: prom-client stays out of a manager that serves no metrics.
 */
async function adoptAdmin(address: string | null, handed: { fd: number; address: string } | null, manager: Manager): Promise<AdminServer | null> {
  if (handed && handed.address !== address) closeSync(handed.fd);
  if (!address) return null;
  const { AdminServer } = await import('../admin/server.js');
  return AdminServer.listen(address, manager, handed?.address === address ? handed.fd : null);
}

/** The manager's own upgrade, loaded when one is asked for: most managers never upgrade. */
async function upgradeManager(...args: Parameters<typeof UpgradeManager>): ReturnType<typeof UpgradeManager> {
  return (await import('../upgrade/upgrade.js')).upgradeManager(...args);
}
