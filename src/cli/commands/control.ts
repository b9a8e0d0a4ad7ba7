import { resolve } from 'node:path';
import { ask, sendCommand } from '../../control/client.js';
import type { Results } from '../../protocol/control.js';
import { OperationError, UsageError } from '../../errors.js';
import { exited } from '../../process-exit.js';
import { servingWords } from '../../protocol/status.js';
import type { CliArgs } from '../args.js';
import { NOT_SERVING } from '../exit-status.js';
import { formatReload, formatRollback, formatStatus, formatUpgrade, jsonText, progressPrinter } from '../format.js';
import { find } from '../instance.js';
import { instanceArgs, runningInstances } from '../instances.js';
import { stderrIsJournal } from '../journal.js';

// The commands that talk to a running manager: reload, upgrade, status, stop, reopen-logs.

/** How long `stop` waits, after the manager's last word, for its process to be gone. */
const EXIT_WAIT_MS = 10_000;

export async function reload(args: CliArgs): Promise<number> {
  const result = await deploy(args, 'reload');
  process.stdout.write(args.json ? jsonText(result) : `${formatReload(result)}\n`);
  return 0;
}

export async function rollback(args: CliArgs): Promise<number> {
  const result = await deploy(args, 'rollback');
  process.stdout.write(args.json ? jsonText(result) : `${formatRollback(result)}\n`);
  return 0;
}

/** A reload, or a rollback (a reload of the release before): the new code's output and what serves when it fails. */
async function deploy<C extends 'reload' | 'rollback'>(args: CliArgs, command: C): Promise<Results[C]> {
  // A config file that would fail the reload is bad input, said here in one line (exit 2).
  const { paths, configError } = await find(args);
  if (configError) throw new UsageError(configError, 'CONFIG_INVALID');
  const journal = stderrIsJournal();
  const progress = progressPrinter(process.stderr, journal);
  const reply = await asking(args, sendCommand(paths, command, progress)).finally(progress.done);
  if (!reply.ok) {
    // Into the journal, the manager has logged the new code's output already.
    if (reply.output?.trim() && !journal) process.stderr.write(`--- output of the new code ---\n${reply.output.trimEnd()}\n---\n`);
    throw new OperationError(`${command} failed: ${reply.error}; ${servingWords(reply.serving ?? null)}`, reply.code, { output: reply.output ?? '', serving: reply.serving ?? null });
  }
  return reply.result;
}

export async function upgrade(args: CliArgs): Promise<number> {
  const { paths, configError } = await find(args);
  if (configError) throw new UsageError(configError, 'CONFIG_INVALID');
  const node = args.node === null ? undefined : resolve(args.node);
  const journal = stderrIsJournal();
  const progress = progressPrinter(process.stderr, journal);
  const { reply, closed } = await asking(args, ask(paths, 'upgrade', progress, node)).finally(progress.done);
  if (!reply.ok) {
    if (reply.output?.trim() && !journal) process.stderr.write(`--- output of the new manager ---\n${reply.output.trimEnd()}\n---\n`);
    throw new OperationError(`upgrade failed: ${reply.error}; the old manager serves on`, reply.code, { output: reply.output ?? '' });
  }
  // Returns once the old manager is gone: by then the PID file names the new one (Type=forking reads it next).
  await closed;
  if (!(await exited(reply.result.from.pid, EXIT_WAIT_MS))) throw new OperationError(`the new manager ${reply.result.to.pid} serves, but the old one (pid ${reply.result.from.pid}) was still running ${EXIT_WAIT_MS / 1000}s later`);
  process.stdout.write(args.json ? jsonText(reply.result) : `${formatUpgrade(reply.result)}\n`);
  return 0;
}

export async function status(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  // No manager at all is an error (NOT_RUNNING), which main() turns into NOT_SERVING too.
  const reply = await asking(args, sendCommand(paths, 'status'));
  if (!reply.ok) throw new OperationError(reply.error, reply.code);
  const s = reply.result;
  process.stdout.write(args.json ? jsonText(s) : `${formatStatus(s)}\n`);
  if (!args.json && s.lastCrash?.output.trim()) process.stdout.write(`\n--- output of the last crashed worker ---\n${s.lastCrash.output.trimEnd()}\n---\n`);
  // --json is read by programs, which read the state: it exits 0 whenever the manager answered.
  return args.json || (s.state === 'serving' && s.workersReady > 0) ? 0 : NOT_SERVING;
}

export async function stop(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  const progress = progressPrinter(process.stderr, stderrIsJournal());
  const { reply, closed } = await asking(args, ask(paths, args.fast ? 'stop-fast' : 'stop', progress)).finally(progress.done);
  if (!reply.ok) throw new OperationError(reply.error, reply.code);
  await closed;
  if (!(await exited(reply.result.pid, EXIT_WAIT_MS))) throw new OperationError(`every worker has exited, but the manager (pid ${reply.result.pid}) was still running ${EXIT_WAIT_MS / 1000}s later`);
  process.stdout.write(args.json ? jsonText(reply.result) : 'stopped: every worker and the manager have exited\n');
  return 0;
}

export async function reopenLogs(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  const reply = await asking(args, sendCommand(paths, 'reopen-logs'));
  if (!reply.ok) throw new OperationError(reply.error, reply.code);
  if (args.json) process.stdout.write(jsonText(reply.result));
  else process.stdout.write(reply.result.reopened.length ? `reopened ${reply.result.reopened.join(', ')}\n` : 'no log file to reopen (the output is not a --log-file)\n');
  return 0;
}

/** The answer, or the error; for an instance that is not running, the error names those that are. */
export async function asking<T>(args: CliArgs, answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (err) {
    if (!(err instanceof OperationError && err.code === 'NOT_RUNNING')) throw err;
    const running = await runningInstances(args.flags.runtimeDir === undefined ? process.env.HYPNODE_RUNTIME_DIR || null : String(args.flags.runtimeDir));
    const hint = running.length ? `; running: ${running.map((r) => instanceArgs(r.status)).join(', ')}` : '; none is running (`hypnode ls`)';
    throw new OperationError(`${err.message}${hint}`, err.code);
  }
}

/** The instance, and a warning when the config file on disk would fail its next reload. */
async function located(args: CliArgs) {
  const instance = await find(args);
  if (instance.configError) process.stderr.write(`hypnode: warning: the next reload would fail: ${instance.configError}\n`);
  return instance;
}
