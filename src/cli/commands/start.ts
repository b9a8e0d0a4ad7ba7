import { resolve } from 'node:path';
import { runManager } from '../../manager-process/run.js';
import { Handover } from '../../upgrade/handover.js';
import type { CliArgs } from '../args.js';
import { daemonize, takeDaemonReadyFd, tellDaemonParent } from '../daemon.js';
import { locate } from '../instance.js';

// `hypnode start`: this process becomes the manager (manager-process/run.ts), in the foreground,
// or (--daemon) starts it in the background and returns once it serves.

export async function start(args: CliArgs): Promise<number> {
  const handover = Handover.take();
  try {
    const located = await locate(args);
    // An upgrade keeps the instance where it was, whatever the config file now says.
    const instance = { ...located, paths: handover?.handoff.paths ?? located.paths };
    // The log file by its full name, as the shell meant it: logrotate renames it, a reopen finds it again.
    const logFile = args.logFile ? resolve(instance.sources.cwd, args.logFile) : null;
    if (args.daemon && !logFile) process.stderr.write('hypnode: warning: --daemon without --log-file: the output of the manager and the app goes nowhere\n');
    if (args.daemon) return await daemonize(process.argv.slice(2), instance.paths, logFile, instance.settings.readyTimeout * 1000);
    const daemonParent = takeDaemonReadyFd();
    const starter = daemonParent === null ? null : (word?: string) => tellDaemonParent(daemonParent, word);
    return await runManager({ instance, handover, logFile, starter });
  } catch (err) {
    handover?.fail(err as Error);
    throw err;
  }
}
