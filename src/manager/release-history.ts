import type { Plan } from '../config/deployment.js';
import type { ReleaseRecord } from '../protocol/status.js';

// The releases that served, newest last, each with the plan it was deployed by (its resolved
// paths, its settings and env files as they were loaded then), so that `hypnode rollback` can
// deploy the one before the current one as it was, not as the disk has it now. A stack, as
// Capistrano's rollback is: rolling back takes the current release off, so that a second rollback
// goes back one further, never forth again to the release just refused.

/** Releases kept: the current one and the few before it. */
const KEPT = 5;

interface Entry {
  record: ReleaseRecord;
  plan: Plan;
}

export class ReleaseHistory {
  private readonly entries: Entry[] = [];
  /** The plan a rollback asked the next reload to deploy instead of the disk's. */
  private pending: Plan | null = null;

  /** `plan` serves now, as generation `generation`. */
  served(generation: number, plan: Plan): void {
    if (this.entries.at(-1)?.plan === plan) return;
    const below = this.entries.at(-2);
    if (below?.plan === plan) {
      this.entries.pop();
      below.record = { ...below.record, generation, since: Date.now(), rolledBackTo: true };
      return;
    }
    this.entries.push({ record: { generation, app: plan.release.app, cwd: plan.release.cwd, since: Date.now(), rolledBackTo: false }, plan });
    if (this.entries.length > KEPT) this.entries.shift();
  }

  /** The release before the current one, which the next reload deploys (null: none is known). */
  rollBack(): ReleaseRecord | null {
    const below = this.entries.at(-2);
    if (!below) return null;
    this.pending = below.plan;
    return below.record;
  }

  /** What a rollback asked for, once: the reload that takes it deploys it. */
  takePending(): Plan | null {
    const plan = this.pending;
    this.pending = null;
    return plan;
  }

  /** Newest first. */
  list(): ReleaseRecord[] {
    return this.entries.map((e) => e.record).reverse();
  }
}
