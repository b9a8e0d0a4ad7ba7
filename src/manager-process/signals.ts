import type { Logger } from '../manager/log.js';
import type { Manager } from '../manager/manager.js';
import type { UpgradeCommand } from './commands.js';

// What each signal to the manager does (README "Signals to the manager", `hypnode help`).

/** `upgrade`: null until this manager answers on its control socket, which an upgrade hands over. */
export function handleSignals(manager: Manager, log: Logger, upgrade: () => UpgradeCommand | null): void {
  let stopSignals = 0;
  const stopBySignal = () => void manager.stop(stopSignals++ === 0 ? 'graceful' : 'fast');
  process.on('SIGHUP', () => void manager.reload());
  // nginx's binary upgrade signal; the result is in the log and in `hypnode status`.
  process.on('SIGUSR2', () => {
    void upgrade()?.(null, (text) => log.info(text)).then((r) => {
      if (!r.ok) log.error(`upgrade (SIGUSR2) failed: ${r.error}; this manager serves on`);
    });
  });
  process.on('SIGTERM', stopBySignal);
  process.on('SIGINT', stopBySignal);
  process.on('SIGQUIT', () => void manager.stop('graceful'));
  process.on('SIGTTIN', () => manager.resize(1));
  process.on('SIGTTOU', () => manager.resize(-1));
  // logrotate's postrotate: `kill -USR1` (as for nginx). A listener also keeps node's inspector off it.
  process.on('SIGUSR1', () => manager.reopenLogs());
}
