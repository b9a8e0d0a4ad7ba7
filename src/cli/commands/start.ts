import type { Command, Reply } from '../../control/protocol.js';
import { ControlServer } from '../../control/server.js';
import { StartFailure } from '../../manager/generation.js';
import { ListenerRegistry } from '../../manager/listeners.js';
import { consoleLogger } from '../../manager/log.js';
import { Manager } from '../../manager/manager.js';
import { removePidFile, writePidFile } from '../../manager/pid-file.js';
import { attachSystemd } from '../../systemd/attach.js';
import { inheritedSockets } from '../../systemd/inherited.js';
import { SystemdNotifier } from '../../systemd/notify.js';
import type { CliArgs } from '../args.js';
import { daemonize, takeDaemonReadyFd, tellDaemonParent } from '../daemon.js';
import { locate } from '../instance.js';

// `hypnode start`: this process becomes the manager and stays in the foreground.

export async function start(args: CliArgs): Promise<number> {
  const { app, settings, sources, paths } = await locate(args);
  if (args.daemon) return daemonize(process.argv.slice(2), paths, args.logFile, settings.upgradeTimeout * 1000);
  const daemonParent = takeDaemonReadyFd();
  // Before any worker exists: both take their variables out of the environment workers inherit.
  const notifier = new SystemdNotifier();
  const registry = new ListenerRegistry();
  registry.adopt(inheritedSockets());
  const log = consoleLogger();
  const manager = new Manager(app, settings, sources, registry, log);
  attachSystemd(manager, registry, notifier);
  const control = await ControlServer.listen(paths, (cmd, progress) => handle(manager, cmd, progress, shutdown), (text) => log.warn(text));
  if (settings.pidFile) writePidFile(settings.pidFile);

  let exiting: Promise<number> | null = null;
  function shutdown(fast: boolean): Promise<number> {
    if (exiting) {
      if (fast) void manager.stop(true);
      return exiting;
    }
    exiting = manager.stop(fast).then(async () => {
      await control.close();
      if (settings.pidFile) removePidFile(settings.pidFile);
      return 0;
    });
    return exiting;
  }

  process.on('SIGHUP', () => void manager.reload());
  process.on('SIGUSR2', () => void manager.reload());
  process.on('SIGTERM', () => void shutdown(exiting !== null));
  process.on('SIGINT', () => void shutdown(exiting !== null));
  process.on('SIGQUIT', () => void shutdown(false));
  process.on('SIGTTIN', () => manager.resize(1));
  process.on('SIGTTOU', () => manager.resize(-1));

  if (daemonParent !== null) manager.once('serving', () => tellDaemonParent(daemonParent));
  try {
    await manager.start();
  } catch (err) {
    if (!(err instanceof StartFailure)) throw err;
    // Stopped before the first generation served: the stop below finishes the job.
  }
  return shutdownDone(() => exiting);
}

/** The manager runs until something asks it to stop; then the exit code is the stop's. */
async function shutdownDone(exiting: () => Promise<number> | null): Promise<number> {
  for (;;) {
    const e = exiting();
    if (e) return e;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function handle(manager: Manager, cmd: Command, progress: (text: string) => void, shutdown: (fast: boolean) => Promise<number>): Promise<Reply> {
  switch (cmd) {
    case 'reload': {
      const result = await manager.reload(progress);
      return result.ok ? { ok: true, result } : { ok: false, error: result.error, output: result.output };
    }
    case 'status':
      return { ok: true, result: manager.status() };
    case 'stop':
    case 'stop-fast':
      progress(cmd === 'stop' ? 'draining every worker' : 'killing every worker');
      await shutdown(cmd === 'stop-fast');
      return { ok: true, result: null };
    case 'workers+':
      return { ok: true, result: manager.resize(1) };
    case 'workers-':
      return { ok: true, result: manager.resize(-1) };
  }
}
