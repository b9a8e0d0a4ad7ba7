import { setTimeout as delay } from 'node:timers/promises';
import { secs } from '../durations.js';
import type { Incoming } from '../manager/rollout.js';
import { describeExit } from '../manager/worker-exit.js';
import type { ErrorCode } from '../protocol/error-codes.js';
import type { FromNew, ManagerIdentity } from '../protocol/upgrade.js';
import { probe, Successor, type SuccessorSpec } from './successor.js';

// The new manager as the incoming side of an upgrade's rollout (see manager/rollout.ts): each of
// the rollout's steps is a word to it over the upgrade channel and its answer, within a deadline.
// Its death, or that of any of its workers, is a crash to the probation.

/** Extra time a new manager has to boot (load its code, read its config) beyond its workers' own ready timeout. */
const BOOT_ALLOWANCE_MS = 30_000;

export class UpgradeFailure extends Error {
  constructor(
    message: string,
    readonly output = '',
    readonly code: ErrorCode = 'START_FAILED',
  ) {
    super(message);
  }
}

export interface NewManagerSpec {
  /** How to start it, but for the Node, which is checked first. */
  successor: Omit<SuccessorSpec, 'node'>;
  node: string;
  /** Its workers' ready timeout, and the probation, as this manager's. */
  readyTimeoutMs: number;
  probationMs: number;
  say(text: string): void;
  /** It committed: from here on it is the one, and this manager leaves it everything. */
  committed(): void;
}

export class NewManager implements Incoming<UpgradeFailure> {
  private successor: Successor | null = null;
  /** What `--version` said of it: known once it is started. */
  runtime: { hypnode: string; node: string } | null = null;
  readyAt = 0;
  servingAt = 0;
  readonly lost: Promise<never>;
  private markLost!: (err: UpgradeFailure) => void;
  private unwatchLost = () => {};

  constructor(private readonly spec: NewManagerSpec) {
    this.lost = new Promise<never>((_, reject) => (this.markLost = reject));
    this.lost.catch(() => {});
  }

  get pid(): number | null {
    return this.successor?.identity?.pid ?? null;
  }

  /** Known once it said it started. */
  get identity(): ManagerIdentity {
    return this.successor!.identity!;
  }

  async standBy(): Promise<void> {
    const { node, say } = this.spec;
    const runtime = probe(node, this.spec.successor.cli, this.spec.successor.env, BOOT_ALLOWANCE_MS);
    if ('error' in runtime) throw new UpgradeFailure(runtime.error, runtime.output);
    this.runtime = runtime;
    say(`starting a new manager: hypnode ${runtime.hypnode} on Node ${runtime.node} (${node})`);
    const s = (this.successor = new Successor({ ...this.spec.successor, node }));
    s.channel.on('message', (m) => {
      if ('progress' in m) say(`new manager: ${m.progress}`);
    });
    await this.step((m) => ('ready' in m ? true : undefined), this.spec.readyTimeoutMs + BOOT_ALLOWANCE_MS, 'before it was ready');
    this.readyAt = Date.now();
    say(`new manager ${this.pid} ready in ${secs(this.readyAt - this.spec.successor.handoff.startedAt)}; the old workers stop accepting`);
  }

  async takeOver(): Promise<void> {
    this.successor!.send({ take: true });
    await this.step((m) => ('accepting' in m ? true : undefined), this.spec.readyTimeoutMs, 'before it accepted');
    this.servingAt = Date.now();
    this.spec.say(`new manager ${this.pid} serves every new connection; draining the old workers`);
    // From here until the commit step, no step waits on the channel to see it close.
    const { channel } = this.successor!;
    const onClosed = () => this.markLost(this.diedServing());
    channel.once('closed', onClosed);
    this.unwatchLost = () => channel.off('closed', onClosed);
  }

  onCrash(listener: (crash: UpgradeFailure) => void): () => void {
    const { channel } = this.successor!;
    const probation = secs(this.spec.probationMs);
    const onMessage = (m: FromNew) => {
      if ('crash' in m) listener(new UpgradeFailure(`${describeExit(m.crash)}, within its ${probation} probation`, m.output, 'PROBATION_FAILED'));
    };
    const onClosed = () => listener(this.diedServing());
    channel.on('message', onMessage);
    channel.once('closed', onClosed);
    return () => {
      channel.off('message', onMessage);
      channel.off('closed', onClosed);
    };
  }

  async commit(): Promise<void> {
    this.unwatchLost();
    this.successor!.send({ commit: true });
    await this.step((m) => ('committed' in m ? true : undefined), BOOT_ALLOWANCE_MS, 'before it committed');
    this.spec.committed();
  }

  /** It serves everything now, and is told so (with the upgrade's result): the channel lets this process exit. */
  main(message: Parameters<Successor['send']>[0]): void {
    this.successor!.send(message);
    this.successor!.channel.unref();
  }

  async abort(): Promise<void> {
    this.unwatchLost();
    this.successor?.abandon();
  }

  private diedServing(): UpgradeFailure {
    return new UpgradeFailure(`the new manager ${this.pid} exited within its probation; its output is in the log`, '', 'PROBATION_FAILED');
  }

  /** Waits for the new manager's answer `pick` accepts; throws at its failure, its death, or `timeoutMs`. */
  private step<T>(pick: (m: FromNew) => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const s = this.successor!;
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
    ]).finally(() => timeout.abort());
  }
}
