import { sendCommand } from '../../control/client.js';
import { OperationError } from '../../errors.js';
import type { ReloadResult, Status } from '../../manager/manager.js';
import type { CliArgs } from '../args.js';
import { formatReload, formatStatus, progressPrinter } from '../format.js';
import { locate } from '../instance.js';

// The commands that talk to a running manager: reload, status, stop.

export async function reload(args: CliArgs): Promise<number> {
  const { paths } = await locate(args);
  const reply = await sendCommand(paths, 'reload', progressPrinter(process.stderr));
  if (!reply.ok) {
    if (reply.output?.trim()) process.stderr.write(`--- output of the new code ---\n${reply.output.trimEnd()}\n---\n`);
    throw new OperationError(`reload failed: ${reply.error}; the old code keeps serving`);
  }
  process.stdout.write(`${formatReload(reply.result as Extract<ReloadResult, { ok: true }>)}\n`);
  return 0;
}

export async function status(args: CliArgs): Promise<number> {
  const { paths } = await locate(args);
  const reply = await sendCommand(paths, 'status');
  if (!reply.ok) throw new OperationError(reply.error);
  process.stdout.write(args.json ? `${JSON.stringify(reply.result, null, 2)}\n` : `${formatStatus(reply.result as Status)}\n`);
  return 0;
}

export async function stop(args: CliArgs): Promise<number> {
  const { paths } = await locate(args);
  const reply = await sendCommand(paths, args.fast ? 'stop-fast' : 'stop', progressPrinter(process.stderr));
  if (!reply.ok) throw new OperationError(reply.error);
  process.stdout.write('stopped: every worker has exited\n');
  return 0;
}
