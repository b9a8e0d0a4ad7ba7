import net from 'node:net';
import { StartFailure } from '../manager/generation.js';
import type { Manager } from '../manager/manager.js';
import type { WorkerExit } from '../manager/worker-exit.js';
import { NativeAddonError, setCloexec } from '../native.js';
import type { UpgradeResult } from '../protocol/status.js';
import { CHANNEL_FD, UPGRADE_ENV, type FromNew, type FromOld, type ManagerIdentity, type UpgradeHandoff } from '../protocol/upgrade.js';
import { UpgradeChannel } from './channel.js';

// The new manager's side of an upgrade: what the old one handed it (sockets, control socket,
// PID file, the next generation's number), and the steps it takes at the old one's word. Until
// the commit it holds nothing of its own: on any failure, or if the old manager goes away, it
// kills its workers and exits, and the old one serves on.

export interface SuccessorSteps {
  /** The commit: make the PID file name this process. Throwing fails the upgrade. */
  commit(): void;
  /** This process is the main one: take the control socket, speak to systemd. `result` is null if the old manager died before it said so. */
  main(result: UpgradeResult | null): Promise<void>;
}

export class Handover {
  private constructor(
    readonly handoff: UpgradeHandoff,
    private readonly channel: UpgradeChannel<FromOld, FromNew>,
  ) {}

  /** The handoff, when this process was started by an upgrade; takes it out of the environment workers inherit. */
  static take(env: NodeJS.ProcessEnv = process.env): Handover | null {
    const raw = env[UPGRADE_ENV];
    delete env[UPGRADE_ENV];
    if (!raw) return null;
    const handoff = JSON.parse(raw) as UpgradeHandoff;
    const fds = [...handoff.sockets.map((s) => s.fd), handoff.control.socketFd, handoff.control.lockFd, handoff.outputLockFd, handoff.admin?.fd ?? null];
    // Workers must not inherit them; without the addon they do (harmless, but they hold them open).
    for (const fd of [CHANNEL_FD, ...fds]) if (fd !== null) tryCloexec(fd);
    return new Handover(handoff, new UpgradeChannel(new net.Socket({ fd: CHANNEL_FD, readable: true, writable: true })));
  }

  /** Startup failed before the upgrade's steps began (a config that does not parse): the old manager hears why. */
  fail(err: Error): void {
    this.channel.send({ failed: err.message, output: err instanceof StartFailure ? err.output : '' });
    this.channel.close();
  }

  /** Runs the new manager's steps; true once it is the main process, false when the upgrade failed. */
  async run(manager: Manager, self: ManagerIdentity, steps: SuccessorSteps): Promise<boolean> {
    const ch = this.channel;
    ch.send({ started: self });
    const unlisten = manager.listen((text) => ch.send({ progress: text }));
    const forwardCrash = (exit: WorkerExit, output: string) => ch.send({ crash: exit, output });
    let committed = false;
    // The old manager gone before the commit: nothing here is wanted any more.
    void ch.ended.then(() => {
      if (!committed) void manager.stop('fast');
    });
    // The old manager's next word: the one expected, or null for `abort`.
    const next = (key: 'take' | 'commit' | 'main') => ch.next((m): FromOld | null | undefined => (key in m ? m : 'abort' in m ? null : undefined));
    try {
      try {
        await manager.start('standby');
      } catch (err) {
        this.fail(err as Error);
        return false;
      }
      ch.send({ ready: true });
      if (!(await next('take'))) return false;
      await manager.goLive();
      manager.on('crash', forwardCrash);
      ch.send({ accepting: true });
      if (!(await next('commit'))) return false;
      steps.commit();
      committed = true;
      ch.send({ committed: true });
    } catch (err) {
      // A failed commit is said; a closed channel means the old manager abandoned the upgrade.
      if (ch.isOpen) this.fail(err as Error);
      return false;
    } finally {
      manager.off('crash', forwardCrash);
      unlisten();
    }
    let result: UpgradeResult | null = null;
    try {
      const word = await next('main');
      if (word && 'main' in word) result = word.main;
    } catch {
      // The old manager died after the commit: this one is all there is, and goes on as the main process.
    }
    await steps.main(result);
    ch.close();
    return true;
  }
}

function tryCloexec(fd: number): void {
  try {
    setCloexec(fd);
  } catch (err) {
    if (!(err instanceof NativeAddonError)) throw err;
  }
}
