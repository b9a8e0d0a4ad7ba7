import { EventEmitter } from 'node:events';
import type { Clock } from './host.js';
import { Probation } from './probation.js';
import type { OnceDrained } from './worker-process.js';

// Moving the traffic from what serves to what replaces it, the one algorithm behind a reload (a
// new generation replaces the serving ones) and an upgrade (a new manager replaces this one):
//
//   standby ──takeOver()──▶ switched ──old stops accepting──▶ probation ──passed (and judged)──▶ committed
//      │                       │                                  │
//      └───────────────────────┴──── failed, crashed, refused, stopped ──┴──▶ rolled back
//
// The new side stands by (started, ready, accepting nothing), then takes every new connection;
// only then does the old side stop accepting, so that no connection finds nobody. The old side is
// kept (its finished workers linger) through the probation: if a new worker dies before the
// window has passed and the old side has drained, or if the traffic it answered meanwhile is
// refused (a reload's judge: see traffic-judge.ts), the old side accepts again and the new one goes.
// Past the commit nothing is taken back.

export type RolloutPhase = 'standby' | 'switched' | 'probation' | 'committed' | 'rolled back';

/** The side traffic moves to: a new generation (a reload), or a new manager (an upgrade). */
export interface Incoming<Crash> {
  /** Starts it; resolves once it could take every new connection. Throws if it cannot. */
  standBy(): Promise<void>;
  /** Every new connection goes to it from now on; resolves once it does. */
  takeOver(): Promise<void>;
  /** `listener` hears each death that fails a probation, until the returned function is called. */
  onCrash(listener: (crash: Crash) => void): () => void;
  /**
   * Rejects once it is gone for good while it serves (a new manager that died): the rollout rolls
   * back at once, probation or not, since nothing else takes new connections.
   */
  readonly lost?: Promise<never>;
  /** It serves for good. */
  commit(): Promise<void>;
  /** The rollout failed: it goes (at once, whatever it was doing). */
  abort(): Promise<void>;
}

/** The side traffic moves from: the serving generations (or some of their slots). */
export interface Outgoing {
  /** Accepts nothing new and finishes what it has; `then`: what its finished workers do. */
  stopAccepting(then: OnceDrained): Promise<void>;
  /** Resolves once every connection it had is finished. */
  drained(): Promise<void>;
  /** Accepts again: the rollout failed after it stopped. */
  resume(): Promise<void>;
  /** Its workers may exit: the rollout committed. Resolves once they have. */
  release(): Promise<void>;
}

export interface RolloutOptions {
  probationMs: number;
  clock: Clock;
  /** Keep the old side until the commit even without a probation: a commit that can fail (an upgrade's). */
  keepUntilCommit?: boolean;
  /** Once the probation passed, the new side's traffic judged (a reload's): why it is refused, or null. */
  judge?: () => Promise<string | null>;
}

export type RolloutEnd<Crash> =
  | { ok: true; readyAt: number; servingAt: number; drainedAt: number }
  /** A new worker died in the probation: the old side serves again. */
  | { ok: false; crash: Crash }
  /** Its traffic was refused (see RolloutOptions.judge), in these words: the old side serves again. */
  | { ok: false; refused: string };

export class Rollout<Crash> extends EventEmitter<{ phase: [phase: RolloutPhase] }> {
  private current: RolloutPhase = 'standby';
  /** Whether the old side stopped accepting: a rollback must make it accept again. */
  private outgoingStopped = false;
  private cancelled: ((err: Error) => void) | null = null;
  private readonly stopped = new Promise<never>((_, reject) => (this.cancelled = reject));

  constructor(
    private readonly incoming: Incoming<Crash>,
    private readonly outgoing: Outgoing,
    private readonly options: RolloutOptions,
  ) {
    super();
    this.stopped.catch(() => {});
  }

  get phase(): RolloutPhase {
    return this.current;
  }

  /** Between the switch and the commit: the new side serves, the old one drains but can be asked back. */
  get switched(): boolean {
    return this.current === 'switched' || this.current === 'probation';
  }

  /** Rolled back after the old side had stopped accepting: it took its traffic back. */
  get tookBack(): boolean {
    return this.current === 'rolled back' && this.outgoingStopped;
  }

  /** Ends the rollout where it is (a stop): run() rolls back and throws `err`. Nothing once committed. */
  cancel(err: Error): void {
    this.cancelled?.(err);
  }

  /**
   * Runs it to the commit, or rolls it back: resolves to the crash that failed the probation, or
   * throws what failed (the new side's start, a step, a cancel) once the old side serves again.
   */
  async run(): Promise<RolloutEnd<Crash>> {
    const { incoming, outgoing, options } = this;
    let probation: Probation<Crash> | null = null;
    let readyAt = 0;
    let servingAt = 0;
    let drainedAt = 0;
    let crash: Crash | null = null;
    let refused: string | null = null;
    try {
      await this.step(incoming.standBy());
      readyAt = options.clock.now();
      // From the moment it stands by: a crash before the switch counts too.
      probation = new Probation(incoming.onCrash.bind(incoming), options.probationMs, options.clock);
      await this.step(incoming.takeOver());
      this.enter('switched');
      this.outgoingStopped = true;
      await this.step(outgoing.stopAccepting(probation.lasts || options.keepUntilCommit === true ? 'linger' : 'exit'));
      servingAt = drainedAt = options.clock.now();
      this.enter('probation');
      const drained = outgoing.drained().then(() => void (drainedAt = options.clock.now()));
      crash = await this.step(probation.verdict(drained));
      if (crash === null && options.judge) refused = await this.step(options.judge());
      if (crash === null && refused === null) await this.step(incoming.commit());
    } catch (err) {
      probation?.end();
      await this.rollBack();
      throw err;
    }
    if (crash !== null) {
      await this.rollBack();
      return { ok: false, crash };
    }
    if (refused !== null) {
      await this.rollBack();
      return { ok: false, refused };
    }
    // Committed: past here nothing is taken back, whatever happens.
    this.cancelled = null;
    this.enter('committed');
    await outgoing.release();
    return { ok: true, readyAt, servingAt, drainedAt };
  }

  /** The old side serves again (if it stopped) before the new one goes: no moment with neither. */
  private async rollBack(): Promise<void> {
    this.cancelled = null;
    if (this.outgoingStopped) await this.outgoing.resume();
    this.enter('rolled back');
    await this.incoming.abort();
  }

  private step<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.stopped, ...(this.incoming.lost ? [this.incoming.lost] : [])]);
  }

  private enter(phase: RolloutPhase): void {
    this.current = phase;
    this.emit('phase', phase);
  }
}
