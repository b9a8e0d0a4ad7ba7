import { resolve } from 'node:path';
import { ask, sendCommand } from '../../control/client.js';
import { OperationError, UsageError } from '../../errors.js';
import { exited } from '../../process-exit.js';
import { servingWords } from '../../protocol/status.js';
import type { CliArgs } from '../args.js';
import { formatReload, formatStatus, formatUpgrade, progressPrinter } from '../format.js';
import { find } from '../instance.js';

// The commands that talk to a running manager: reload, upgrade, status, stop, reopen-logs.

/** How long `stop` waits, after the manager's last word, for its process to be gone. */
const EXIT_WAIT_MS = 10_000;

export async function reload(args: CliArgs): Promise<number> {
  // A config file that would fail the reload is bad input, said here in one line (exit 2).
  const { paths, configError } = await find(args);
  if (configError) throw new UsageError(configError);
  const reply = await sendCommand(paths, 'reload', progressPrinter(process.stderr));
  if (!reply.ok) {
    if (reply.output?.trim()) process.stderr.write(`--- output of the new code ---\n${reply.output.trimEnd()}\n---\n`);
    throw new OperationError(`reload failed: ${reply.error}; ${servingWords(reply.serving ?? null)}`);
  }
  process.stdout.write(`${formatReload(reply.result)}\n`);
  return 0;
}

export async function upgrade(args: CliArgs): Promise<number> {
  const { paths, configError } = await find(args);
  if (configError) throw new UsageError(configError);
  const node = args.node === null ? undefined : resolve(args.node);
  const { reply, closed } = await ask(paths, 'upgrade', progressPrinter(process.stderr), node);
  if (!reply.ok) {
    if (reply.output?.trim()) process.stderr.write(`--- output of the new manager ---\n${reply.output.trimEnd()}\n---\n`);
    throw new OperationError(`upgrade failed: ${reply.error}; the old manager serves on`);
  }
  // Returns once the old manager is gone: by then the PID file names the new one (Type=forking reads it next).
  await closed;
  if (!(await exited(reply.result.from.pid, EXIT_WAIT_MS))) throw new OperationError(`the new manager ${reply.result.to.pid} serves, but the old one (pid ${reply.result.from.pid}) was still running ${EXIT_WAIT_MS / 1000}s later`);
  process.stdout.write(`${formatUpgrade(reply.result)}\n`);
  return 0;
}

export async function status(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  const reply = await sendCommand(paths, 'status');
  if (!reply.ok) throw new OperationError(reply.error);
  process.stdout.write(args.json ? `${JSON.stringify(reply.result, null, 2)}\n` : `${formatStatus(reply.result)}\n`);
  return 0;
}

export async function stop(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  const { reply, closed } = await ask(paths, args.fast ? 'stop-fast' : 'stop', progressPrinter(process.stderr));
  if (!reply.ok) throw new OperationError(reply.error);
  await closed;
  if (!(await exited(reply.result.pid, EXIT_WAIT_MS))) throw new OperationError(`every worker has exited, but the manager (pid ${reply.result.pid}) was still running ${EXIT_WAIT_MS / 1000}s later`);
  process.stdout.write('stopped: every worker and the manager have exited\n');
  return 0;
}

export async function reopenLogs(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  const reply = await sendCommand(paths, 'reopen-logs');
  if (!reply.ok) throw new OperationError(reply.error);
  process.stdout.write(reply.result.reopened.length ? `reopened ${reply.result.reopened.join(', ')}\n` : 'no log file to reopen (the output is not a --log-file)\n');
  return 0;
}

/** The instance, and a warning when the config file on disk would fail its next reload. */
async function located(args: CliArgs) {
  const instance = await find(args);
  if (instance.configError) process.stderr.write(`hypnode: warning: the next reload would fail: ${instance.configError}\n`);
  return instance;
}
