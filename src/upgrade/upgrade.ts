import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AdminServer } from '../admin/server.js';
import type { ControlServer } from '../control/server.js';
import { secs } from '../durations.js';
import type { ListenerRegistry } from '../manager/listeners.js';
import { outputLockFd } from '../manager/log-sink.js';
import type { Manager } from '../manager/manager.js';
import { writePidFile } from '../manager/pid-file.js';
import { codeOf, type ErrorCode } from '../protocol/error-codes.js';
import type { UpgradeResult } from '../protocol/status.js';
import type { ManagerIdentity } from '../protocol/upgrade.js';
import { NewManager, UpgradeFailure } from './new-manager.js';

// `hypnode upgrade`, in the old manager: a rollout (see manager/rollout.ts) from this manager's
// serving generations to a new manager (the hypnode code on disk now, on the Node asked for),
// which gets every socket and takes the traffic once its workers stand by. Past the probation and
// this manager's own drain, the new one commits: it gets the control socket and systemd's
// MAINPID, and this one exits. Until that commit the rollout can take everything back: a new
// manager that fails, at any step, leaves the old one serving as if nothing had happened (the
// PID file, which the new one claimed once its workers stood by, names the old one again).

export interface UpgradeContext {
  manager: Manager;
  registry: ListenerRegistry;
  control: ControlServer;
  admin: AdminServer | null;
  self: ManagerIdentity;
  /** The Node this manager was started by: the default for the new one. */
  startedNode: string;
  /** Where and how the new manager starts: as this one was. */
  cli: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  pidFile: string | null;
  probationMs: number;
  timeoutMs: number;
}

export async function upgradeManager(ctx: UpgradeContext, nodeArg: string | null, say: (text: string) => void): Promise<UpgradeResult> {
  const { manager, self } = ctx;
  const startedAt = Date.now();
  const failed = (code: ErrorCode, error: string, output: string): UpgradeResult => ({ ok: false, from: self, startedAt, code, error, output });
  let result: Extract<UpgradeResult, { ok: true }> | null = null;
  const incoming: NewManager = new NewManager({
    node: nodeArg ? resolve(ctx.cwd, nodeArg) : ctx.startedNode,
    successor: {
      cli: ctx.cli,
      args: ctx.args,
      execArgv: process.execArgv,
      cwd: ctx.cwd,
      env: ctx.env,
      handoff: {
        from: self,
        startedAt,
        paths: ctx.control.paths,
        pidFile: ctx.pidFile,
        generation: manager.nextGenerationId,
        sockets: ctx.registry.list().map(({ fd, name, key }) => ({ fd, name, key })),
        control: ctx.control.fds,
        outputLockFd: outputLockFd(),
        admin: ctx.admin ? { fd: ctx.admin.fd, address: ctx.admin.address } : null,
      },
    },
    readyTimeoutMs: ctx.timeoutMs,
    probationMs: ctx.probationMs,
    say,
    committed: () => {
      // From here on the new manager is the one: nothing is taken back.
      ctx.control.leave();
      ctx.admin?.leave();
      result = { ok: true, from: self, to: { ...incoming.identity, ...incoming.runtime! }, startedAt, readyAt: incoming.readyAt, servingAt: incoming.servingAt, doneAt: Date.now() };
      manager.handOver(result.to.pid);
      incoming.main({ main: result });
    },
  });
  const rollout = manager.upgradeTo(incoming);
  if ('code' in rollout) return failed(rollout.code, rollout.error, '');
  try {
    const end = await rollout.run();
    // No judge in an upgrade: nothing but a crash ends it so; a refusal is said all the same.
    if (!end.ok) throw 'crash' in end ? end.crash : new UpgradeFailure(end.refused, '', 'TRAFFIC_REFUSED');
    const done = result!;
    manager.retire(done);
    say(`done: manager ${incoming.pid} (hypnode ${incoming.runtime!.hypnode}, Node ${incoming.runtime!.node}) serves everything, the old drained, in ${secs(Date.now() - startedAt)}`);
    return { ...done, doneAt: Date.now() };
  } catch (err) {
    const failure = err instanceof UpgradeFailure ? err : new UpgradeFailure((err as Error).message, '', codeOf(err, 'INTERNAL'));
    // A new manager that wrote the PID file and then failed: it names this one again.
    if (ctx.pidFile && incoming.pid) restorePidFile(ctx.pidFile, incoming.pid);
    const failedResult = failed(failure.code, failure.message, failure.output);
    if (rollout.tookBack) say(`upgrade failed: ${failure.message}; the old workers accept again`);
    manager.handBack(failedResult);
    return failedResult;
  }
}

function restorePidFile(path: string, successor: number): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(successor)) writePidFile(path, process.pid, successor);
  } catch {
    // Gone, or not writable any more: the old manager serves on regardless.
  }
}
