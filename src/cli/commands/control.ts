import { resolve } from 'node:path';
import { ask, sendCommand } from '../../control/client.js';
import { OperationError, UsageError } from '../../errors.js';
import { exited } from '../../process-exit.js';
import { servingWords } from '../../protocol/status.js';
import type { CliArgs } from '../args.js';
import { formatReload, formatStatus, formatUpgrade, progressPrinter } from '../format.js';
import { find } from '../instance.js';
import { instanceArgs, runningInstances } from '../instances.js';
import { stderrIsJournal } from '../journal.js';

// The commands that talk to a running manager: reload, upgrade, status, stop, reopen-logs.

/** How long `stop` waits, after the manager's last word, for its process to be gone. */
const EXIT_WAIT_MS = 10_000;

export async function reload(args: CliArgs): Promise<number> {
  // A config file that would fail the reload is bad input, said here in one line (exit 2).
  const { paths, configError } = await find(args);
  if (configError) throw new UsageError(configError);
  const journal = stderrIsJournal();
  const progress = progressPrinter(process.stderr, journal);
  const reply = await asking(args, sendCommand(paths, 'reload', progress)).finally(progress.done);
  if (!reply.ok) {
    // Into the journal, the manager has logged the new code's output already.
    if (reply.output?.trim() && !journal) process.stderr.write(`--- output of the new code ---\n${reply.output.trimEnd()}\n---\n`);
    throw new OperationError(`reload failed: ${reply.error}; ${servingWords(reply.serving ?? null)}`);
  }
  process.stdout.write(`${formatReload(reply.result)}\n`);
  return 0;
}

export async function upgrade(args: CliArgs): Promise<number> {
  const { paths, configError } = await find(args);
  if (configError) throw new UsageError(configError);
  const node = args.node === null ? undefined : resolve(args.node);
  const journal = stderrIsJournal();
  const progress = progressPrinter(process.stderr, journal);
  const { reply, closed } = await asking(args, ask(paths, 'upgrade', progress, node)).finally(progress.done);
  if (!reply.ok) {
    if (reply.output?.trim() && !journal) process.stderr.write(`--- output of the new manager ---\n${reply.output.trimEnd()}\n---\n`);
    throw new OperationError(`upgrade failed: ${reply.error}; the old manager serves on`);
  }
  // Returns once the old manager is gone: by then the PID file names the new one (Type=forking reads it next).
  await closed;
  if (!(await exited(reply.result.from.pid, EXIT_WAIT_MS))) throw new OperationError(`the new manager ${reply.result.to.pid} serves, but the old one (pid ${reply.result.from.pid}) was still running ${EXIT_WAIT_MS / 1000}s later`);
  process.stdout.write(`${formatUpgrade(reply.result)}\n`);
  return 0;
}

/** `hypnode status`'s exit code when nothing serves (no manager, or no worker ready): LSB's and systemctl's "not running". */
const NOT_SERVING = 3;

export async function status(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  let reply;
  try {
    reply = await asking(args, sendCommand(paths, 'status'));
  } catch (err) {
    if (!(err instanceof OperationError && NOT_RUNNING.test(err.message))) throw err;
    process.stderr.write(`hypnode: ${err.message}\n`);
    return NOT_SERVING;
  }
  if (!reply.ok) throw new OperationError(reply.error);
  const s = reply.result;
  process.stdout.write(args.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
  if (!args.json && s.lastCrash?.output.trim()) process.stdout.write(`\n--- output of the last crashed worker ---\n${s.lastCrash.output.trimEnd()}\n---\n`);
  // --json is read by programs, which read the state: it exits 0 whenever the manager answered.
  return args.json || (s.state === 'serving' && s.workersReady > 0) ? 0 : NOT_SERVING;
}

export async function stop(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  const progress = progressPrinter(process.stderr, stderrIsJournal());
  const { reply, closed } = await asking(args, ask(paths, args.fast ? 'stop-fast' : 'stop', progress)).finally(progress.done);
  if (!reply.ok) throw new OperationError(reply.error);
  await closed;
  if (!(await exited(reply.result.pid, EXIT_WAIT_MS))) throw new OperationError(`every worker has exited, but the manager (pid ${reply.result.pid}) was still running ${EXIT_WAIT_MS / 1000}s later`);
  process.stdout.write('stopped: every worker and the manager have exited\n');
  return 0;
}

export async function reopenLogs(args: CliArgs): Promise<number> {
  const { paths } = await located(args);
  const reply = await asking(args, sendCommand(paths, 'reopen-logs'));
  if (!reply.ok) throw new OperationError(reply.error);
  process.stdout.write(reply.result.reopened.length ? `reopened ${reply.result.reopened.join(', ')}\n` : 'no log file to reopen (the output is not a --log-file)\n');
  return 0;
}

const NOT_RUNNING = /^no hypnode instance is running for /;

/** The answer, or the error; for an instance that is not running, the error names those that are. */
export async function asking<T>(args: CliArgs, answer: Promise<T>): Promise<T> {
  try {
    return await answer;
  } catch (err) {
    if (!(err instanceof OperationError && NOT_RUNNING.test(err.message))) throw err;
    const running = await runningInstances(args.flags.runtimeDir === undefined ? process.env.HYPNODE_RUNTIME_DIR || null : String(args.flags.runtimeDir));
    const hint = running.length ? `; running: ${running.map((r) => instanceArgs(r.status)).join(', ')}` : '; none is running (`hypnode ls`)';
    throw new OperationError(`${err.message}${hint}`);
  }
}

/** The instance, and a warning when the config file on disk would fail its next reload. */
async function located(args: CliArgs) {
  const instance = await find(args);
  if (instance.configError) process.stderr.write(`hypnode: warning: the next reload would fail: ${instance.configError}\n`);
  return instance;
}
