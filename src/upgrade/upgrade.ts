import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { AdminServer } from '../admin/server.js';
import type { ControlServer } from '../control/server.js';
import { secs } from '../durations.js';
import type { ListenerRegistry } from '../manager/listeners.js';
import { outputLockFd } from '../manager/log-sink.js';
import type { Manager } from '../manager/manager.js';
import { writePidFile } from '../manager/pid-file.js';
import { describeExit } from '../manager/worker-exit.js';
import { codeOf, type ErrorCode } from '../protocol/error-codes.js';
import type { UpgradeResult } from '../protocol/status.js';
import type { FromNew, ManagerIdentity } from '../protocol/upgrade.js';
import { probe, Successor } from './successor.js';

// `hypnode upgrade`, in the old manager: it starts a new manager (the hypnode code on disk now,
// on the Node asked for), hands it every socket, and steps aside only once the new one's workers
// serve; then, past the probation and its own drain, it passes the control socket and systemd's
// MAINPID to it, and exits. Until that commit it can take everything back: a new manager that
// fails, at any step, leaves the old one serving as if nothing had happened (the PID file, which
// the new one claimed once its workers stood by, names the old one again).

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

/** Extra time a new manager has to boot (load its code, read its config) beyond its workers' own ready timeout. */
const BOOT_ALLOWANCE_MS = 30_000;

class UpgradeFailure extends Error {
  constructor(
    message: string,
    readonly output = '',
    readonly code: ErrorCode = 'START_FAILED',
  ) {
    super(message);
  }
}

export async function upgradeManager(ctx: UpgradeContext, nodeArg: string | null, say: (text: string) => void): Promise<UpgradeResult> {
  const { manager, self } = ctx;
  const startedAt = Date.now();
  const failed = (code: ErrorCode, error: string, output: string): UpgradeResult => ({ ok: false, from: self, startedAt, code, error, output });
  const refusal = manager.beginUpgrade();
  if (refusal) return failed(refusal.code, refusal.error, '');
  const node = nodeArg ? resolve(ctx.cwd, nodeArg) : ctx.startedNode;
  let successor: Successor | null = null;
  let steppedAside = false;
  const stopping = new Promise<never>((_, reject) => manager.once('stopping', () => reject(new UpgradeFailure('hypnode is stopping', '', 'STOPPING'))));
  stopping.catch(() => {});
  try {
    const runtime = probe(node, ctx.cli, ctx.env, BOOT_ALLOWANCE_MS);
    if ('error' in runtime) throw new UpgradeFailure(runtime.error, runtime.output);
    say(`starting a new manager: hypnode ${runtime.hypnode} on Node ${runtime.node} (${node})`);
    successor = new Successor({
      node,
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
    });
    const s = successor;
    s.channel.on('message', (m) => {
      if ('progress' in m) say(`new manager: ${m.progress}`);
    });
    // Each step waits for its answer, the new manager's failure or death, or this manager's stop.
    const step = <T>(pick: (m: FromNew) => T | undefined, timeoutMs: number, what: string): Promise<T> => {
      const timeout = new AbortController();
      return Promise.race([
        s.channel.next((m) => {
          if ('failed' in m) throw new UpgradeFailure(m.failed, m.output);
          return pick(m);
        }).catch((err: unknown) => {
          throw err instanceof UpgradeFailure ? err : new UpgradeFailure(`the new manager${s.identity ? ` (pid ${s.identity.pid})` : ''} exited ${what}; its output is in the log`);
        }),
        delay(timeoutMs, undefined, { signal: timeout.signal }).then(() => {
          throw new UpgradeFailure(`the new manager was not ${what.replace(/^before /, '')} within ${secs(timeoutMs)}`);
        }),
        stopping,
      ]).finally(() => timeout.abort());
    };
    await step((m) => ('ready' in m ? true : undefined), ctx.timeoutMs + BOOT_ALLOWANCE_MS, 'before it was ready');
    const readyAt = Date.now();
    const pid = s.identity!.pid;
    say(`new manager ${pid} ready in ${secs(readyAt - startedAt)}; the old workers stop accepting`);
    s.send({ take: true });
    await step((m) => ('accepting' in m ? true : undefined), ctx.timeoutMs, 'before it accepted');
    steppedAside = true;
    await manager.stepAside();
    const servingAt = Date.now();
    say(`new manager ${pid} serves every new connection; draining the old workers`);
    // The probation: a new worker that dies before it ends (and before the old have drained) fails the upgrade.
    const died = s.channel.next((m) => ('crash' in m ? m : undefined)).then(
      (m) => new UpgradeFailure(`${describeExit(m.crash)}, within its ${secs(ctx.probationMs)} probation`, m.output, 'PROBATION_FAILED'),
      () => new UpgradeFailure(`the new manager ${pid} exited within its probation; its output is in the log`, '', 'PROBATION_FAILED'),
    );
    const verdict = await Promise.race([Promise.all([manager.drained(), delay(ctx.probationMs)]).then(() => null), died, stopping]);
    if (verdict) throw verdict;
    s.send({ commit: true });
    await step((m) => ('committed' in m ? true : undefined), BOOT_ALLOWANCE_MS, 'before it committed');
    // From here on the new manager is the one: nothing is taken back.
    ctx.control.leave();
    ctx.admin?.leave();
    const result: UpgradeResult = { ok: true, from: self, to: { ...s.identity!, ...runtime }, startedAt, readyAt, servingAt, doneAt: Date.now() };
    manager.handOver(pid);
    s.send({ main: result });
    s.channel.unref();
    await manager.retire(result);
    say(`done: manager ${pid} (hypnode ${runtime.hypnode}, Node ${runtime.node}) serves everything, the old drained, in ${secs(Date.now() - startedAt)}`);
    return { ...result, doneAt: Date.now() };
  } catch (err) {
    const failure = err instanceof UpgradeFailure ? err : new UpgradeFailure((err as Error).message, '', codeOf(err, 'INTERNAL'));
    successor?.abandon();
    // A new manager that wrote the PID file and then failed: it names this one again.
    if (ctx.pidFile && successor?.identity) restorePidFile(ctx.pidFile, successor.identity.pid);
    const result = failed(failure.code, failure.message, failure.output);
    if (steppedAside) say(`upgrade failed: ${failure.message}; the old workers accept again`);
    await manager.handBack(result);
    return result;
  }
}

function restorePidFile(path: string, successor: number): void {
  try {
    if (readFileSync(path, 'utf8').trim() === String(successor)) writePidFile(path, process.pid, successor);
  } catch {
    // Gone, or not writable any more: the old manager serves on regardless.
  }
}
