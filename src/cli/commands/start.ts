import { resolve } from 'node:path';
import { Deployment } from '../../config/deployment.js';
import { ControlServer } from '../../control/server.js';
import { StartFailure } from '../../manager/generation.js';
import { ListenerRegistry } from '../../manager/listeners.js';
import { consoleLogger } from '../../manager/log.js';
import { Manager } from '../../manager/manager.js';
import { reapOrphans } from '../../manager/orphan-reaper.js';
import { removePidFile, writePidFile } from '../../manager/pid-file.js';
import type { Command, FinalReply } from '../../protocol/control.js';
import { attachSystemd } from '../../systemd/attach.js';
import { inheritedSockets } from '../../systemd/inherited.js';
import { SystemdNotifier } from '../../systemd/notify.js';
import type { CliArgs } from '../args.js';
import { daemonize, takeDaemonReadyFd, tellDaemonParent } from '../daemon.js';
import { locate } from '../instance.js';

// `hypnode start`: this process becomes the manager and stays in the foreground until a stop.

export async function start(args: CliArgs): Promise<number> {
  const { app, settings, sources, paths } = await locate(args);
  // The log file by its full name, as the shell meant it: logrotate renames it, a reopen finds it again.
  const logFile = args.logFile ? resolve(sources.cwd, args.logFile) : null;
  if (args.daemon) return daemonize(process.argv.slice(2), paths, logFile, settings.upgradeTimeout * 1000);
  const deployment = new Deployment(app, sources);
  const plan = deployment.planFor(settings);
  const daemonParent = takeDaemonReadyFd();
  // Before any worker exists: both take their variables out of the environment workers inherit.
  const notifier = new SystemdNotifier();
  const registry = new ListenerRegistry();
  registry.adopt(inheritedSockets());
  const log = consoleLogger(logFile);
  const manager = new Manager(deployment, plan, registry, log);
  attachSystemd(manager, registry, notifier, (text) => log.warn(text));
  const reaping = reapOrphans(() => manager.workerPids());
  if (reaping) log.warn(reaping);
  const control = await ControlServer.listen(paths, (cmd, progress) => handle(manager, cmd, progress), (text) => log.warn(text));
  if (settings.pidFile) writePidFile(settings.pidFile);

  let stopSignals = 0;
  const stopBySignal = () => void manager.stop(stopSignals++ === 0 ? 'graceful' : 'fast');
  process.on('SIGHUP', () => void manager.reload());
  process.on('SIGUSR2', () => void manager.reload());
  process.on('SIGTERM', stopBySignal);
  process.on('SIGINT', stopBySignal);
  process.on('SIGQUIT', () => void manager.stop('graceful'));
  process.on('SIGTTIN', () => manager.resize(1));
  process.on('SIGTTOU', () => manager.resize(-1));
  // logrotate's postrotate: `kill -USR1` (as for nginx). A listener also keeps node's inspector off it.
  process.on('SIGUSR1', () => manager.reopenLogs());

  if (daemonParent !== null) manager.once('serving', () => tellDaemonParent(daemonParent));
  manager.start().catch((err: unknown) => {
    // Stopped before the first generation served: the stop finishes the job.
    if (!(err instanceof StartFailure)) throw err;
  });
  await manager.stopped;
  control.close();
  if (settings.pidFile) removePidFile(settings.pidFile);
  log.close();
  // A manager stopped before its app ever served did not do its job: say so to whoever waits (a container runtime).
  return manager.hasServed ? 0 : 1;
}

async function handle(manager: Manager, cmd: Command, progress: (text: string) => void): Promise<FinalReply> {
  switch (cmd) {
    case 'reload': {
      const result = await manager.reload(progress);
      return result.ok ? { ok: true, result } : { ok: false, error: result.error, output: result.output, serving: result.serving };
    }
    case 'status':
      return { ok: true, result: manager.status() };
    case 'stop':
    case 'stop-fast':
      progress(cmd === 'stop' ? 'draining every worker' : 'killing every worker');
      await manager.stop(cmd === 'stop' ? 'graceful' : 'fast');
      return { ok: true, result: { pid: process.pid } };
    case 'reopen-logs':
      return { ok: true, result: { reopened: manager.reopenLogs() } };
  }
}
