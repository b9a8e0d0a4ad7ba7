import net from 'node:net';
import { StartFailure } from '../manager/generation.js';
import type { Manager } from '../manager/manager.js';
import type { WorkerExit } from '../protocol/worker-exit.js';
import { orWithoutAddon, setCloexec } from '../native.js';
import { exited } from '../process-exit.js';
import type { UpgradeResult } from '../protocol/status.js';
import { CHANNEL_FD, UPGRADE_ENV, type FromNew, type FromOld, type ManagerIdentity, type UpgradeHandoff } from '../protocol/upgrade.js';
import { UpgradeChannel } from './channel.js';

// The new manager's side of an upgrade: what the old one handed it (sockets, control socket,
// PID file, the next generation's number), and the steps it takes at the old one's word. Until
// the commit it takes nothing from the old one: on any failure, or if the old manager abandons the
// upgrade, it kills its workers and exits, and the old one serves on. An old manager that dies
// instead leaves this one to finish the takeover alone.

export interface SuccessorSteps {
  /** This process's workers stand by: make the PID file name it, so that a supervisor that loses the old manager from here on finds this one. Throwing fails the upgrade. */
  claimPidFile(): void;
  /**
   * This process is the main one: take the control socket, speak to systemd. `result` is null if
   * the old manager died before it said so; `orphaned` says when, if it died before the commit
   * (this process then tells systemd MAINPID= and READY=1 itself).
   */
  main(result: UpgradeResult | null, orphaned: string | null): Promise<void>;
}

/** How a successor's run ended: it is the main process, or it exits, and why. */
export type HandoverOutcome = { main: true } | { main: false; why: string };

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

  /**
   * Runs the new manager's steps. The old manager may die at any of them (kill -9, OOM): once
   * this one's workers stand by, it finishes the takeover by itself, since nothing else serves;
   * before that it finishes starting them first, and exits if they cannot start.
   */
  async run(manager: Manager, self: ManagerIdentity, steps: SuccessorSteps): Promise<HandoverOutcome> {
    const ch = this.channel;
    const from = this.handoff.from.pid;
    ch.send({ started: self });
    const unlisten = manager.listen((text) => ch.send({ progress: text }));
    const forwardCrash = (exit: WorkerExit, output: string) => ch.send({ crash: exit, output });
    let aborted = false;
    let committed = false;
    ch.on('message', (m) => {
      if ('abort' in m) aborted = true;
    });
    // A channel that closes before the commit: the old manager abandoned the upgrade (it said
    // `abort`, or lives on: an older hypnode closes without a word), or it died.
    const oldDied = ch.ended.then(async () => !aborted && (await exited(from, DEATH_WAIT_MS)));
    void oldDied.then((died) => {
      if (!committed && !died) void manager.stop('fast');
    });
    const failed = { main: false, why: 'the upgrade failed: this new manager exits, the old one serves on' } as const;
    const abandoned = { main: false, why: `${failed.why} (it abandoned the upgrade)` } as const;
    // The old manager's next word: the one expected, null for `abort`, 'died' if it died first.
    const next = async (key: 'take' | 'commit'): Promise<FromOld | null | 'died'> => {
      try {
        return await ch.next((m): FromOld | null | undefined => (key in m ? m : 'abort' in m ? null : undefined));
      } catch {
        return (await oldDied) ? 'died' : null;
      }
    };
    let orphaned: string | null = null;
    try {
      try {
        await manager.start('standby');
        steps.claimPidFile();
      } catch (err) {
        if (await settledTrue(oldDied)) return { main: false, why: `the old manager ${from} died during the upgrade and this one's workers could not start (${(err as Error).message}): nothing serves` };
        this.fail(err as Error);
        return failed;
      }
      if (await settledTrue(oldDied)) orphaned = 'before this one\'s workers stood by';
      else {
        ch.send({ ready: true });
        const take = await next('take');
        if (take === null) return abandoned;
        if (take === 'died') orphaned = 'while this one\'s workers stood by';
      }
      await manager.goLive();
      if (!orphaned) {
        manager.on('crash', forwardCrash);
        ch.send({ accepting: true });
        const commit = await next('commit');
        if (commit === null) return abandoned;
        if (commit === 'died') orphaned = 'while this one served, before the commit';
      }
      committed = true;
      if (!orphaned) ch.send({ committed: true });
    } catch (err) {
      // A failed step is said; a closed channel means the old manager abandoned the upgrade.
      if (!ch.isOpen) return abandoned;
      this.fail(err as Error);
      return failed;
    } finally {
      manager.off('crash', forwardCrash);
      unlisten();
    }
    let result: UpgradeResult | null = null;
    if (!orphaned) {
      try {
        const word = await ch.next((m) => ('main' in m ? m : undefined));
        result = word.main;
      } catch {
        // The old manager died after the commit: this one is all there is, and goes on as the main process.
      }
    }
    await steps.main(result, orphaned);
    ch.close();
    return { main: true };
  }
}

/** How long a closed channel may precede the end of the process behind it. */
const DEATH_WAIT_MS = 2_000;

/** Whether `p` has already resolved to true, without waiting for it. */
async function settledTrue(p: Promise<boolean>): Promise<boolean> {
  return Promise.race([p, Promise.resolve(false)]);
}

function tryCloexec(fd: number): void {
  orWithoutAddon(() => setCloexec(fd), undefined);
}
