import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { CHANNEL_FD, UPGRADE_ENV, type FromNew, type FromOld, type ManagerIdentity, type UpgradeHandoff } from '../protocol/upgrade.js';
import { spawnUnadopted } from '../manager/orphan-reaper.js';
import { UpgradeChannel } from './channel.js';

// The old manager's side of an upgrade: the new manager, started as a grandchild (through a shell
// that exits at once) so that it is reparented to systemd, or to init, before systemd hears its
// PID. A child of the old manager would stay "not our child" to systemd for good, and a later
// `systemctl stop` would SIGKILL it without waiting (see the README's upgrade section).

/** How long a new manager has to exit once its upgrade is abandoned. */
const ABANDON_GRACE_MS = 10_000;

export interface SuccessorSpec {
  node: string;
  /** The hypnode CLI the new manager runs, and its arguments (those this manager was started with). */
  cli: string;
  args: string[];
  execArgv: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** What the old manager hands over, with its own fd numbers: they are renumbered for the new one. */
  handoff: UpgradeHandoff;
}

/** What `node CLI --version` says: checked before anything starts, so that a broken Node or build fails at once, with its own words. */
export function probe(node: string, cli: string, env: NodeJS.ProcessEnv, timeoutMs: number): { hypnode: string; node: string } | { error: string; output: string } {
  const run = spawnSync(node, [cli, '--version'], { env, encoding: 'utf8', timeout: timeoutMs });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (run.error) return { error: `cannot run ${node}: ${run.error.message}`, output };
  const m = /^hypnode (\S+) \(node (v[^,]+),/.exec(run.stdout ?? '');
  if (run.status !== 0 || !m) return { error: `\`${node} ${cli} --version\` failed (${run.signal ?? `exit code ${run.status}`}): the new manager could not start`, output };
  return { hypnode: m[1]!, node: m[2]! };
}

export class Successor {
  readonly channel: UpgradeChannel<FromNew, FromOld>;
  /** Known once the new manager says it has started. */
  identity: ManagerIdentity | null = null;

  constructor(spec: SuccessorSpec) {
    const { handoff } = spec;
    // The fds the new manager gets, from 4 up, in the order the handoff names them.
    const passed: number[] = [];
    const pass = (fd: number) => passed.push(fd) + CHANNEL_FD;
    const renumbered: UpgradeHandoff = {
      ...handoff,
      sockets: handoff.sockets.map((s) => ({ ...s, fd: pass(s.fd) })),
      control: { socketFd: pass(handoff.control.socketFd), lockFd: handoff.control.lockFd === null ? null : pass(handoff.control.lockFd) },
      outputLockFd: handoff.outputLockFd === null ? null : pass(handoff.outputLockFd),
      admin: handoff.admin === null ? null : { ...handoff.admin, fd: pass(handoff.admin.fd) },
    };
    const child = spawnUnadopted(() => spawn('/bin/sh', ['-c', '"$@" &', 'sh', spec.node, ...spec.execArgv, '--', spec.cli, ...spec.args], {
      cwd: spec.cwd,
      env: { ...spec.env, [UPGRADE_ENV]: JSON.stringify(renumbered) },
      // Its own session: a terminal's ^C to the old manager's job must not reach the new one.
      detached: true,
      stdio: ['ignore', 'inherit', 'inherit', 'pipe', ...passed],
    }));
    child.on('error', () => {}); // /bin/sh missing: the channel closes, which fails the upgrade
    child.unref();
    this.channel = new UpgradeChannel(child.stdio[CHANNEL_FD] as net.Socket);
    this.channel.on('message', (m) => {
      if ('started' in m) this.identity = m.started;
    });
  }

  send(message: FromOld): void {
    this.channel.send(message);
  }

  /** Ends the upgrade from this side: the new manager, told `abort` before `commit`, kills its workers and exits. */
  abandon(): void {
    // Said, not only shown by closing: a channel that just closes means this manager died.
    this.channel.send({ abort: true });
    this.channel.close();
    const pid = this.identity?.pid;
    // One that hangs is killed: it holds nothing the old manager needs.
    if (!pid) return;
    const timer = setTimeout(() => kill(pid), ABANDON_GRACE_MS).unref();
    void this.channel.ended.then(() => clearTimeout(timer));
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone already
  }
}
