import type { Logger } from './log.js';

// Lines of output dropped (by a worker whose sink took nothing for --log-stall-timeout or whose
// --log-buffer was full, or by the manager past its own bound) are said in the log with the
// numbers `hypnode status` shows: each report says how many since the last one said, by which
// worker, and how many in all, the same figure as logLinesDropped. A report counts as said only
// once the log took it: one the log had to drop (itself a dropped line, so counted) is said by
// the next. A worker's count comes with its heartbeats, so a report follows its drops by a
// heartbeat interval or so.

/** While lines keep being dropped, a report at most this often; once they stop, at once. */
const EVERY_MS = 10_000;
const CHECK_MS = 1000;

export interface DropCounts {
  /** The manager's and every worker's, live or gone: logLinesDropped. */
  total: number;
  /** Each live worker's count, by its tag (`g2 1234`). */
  workers: Map<string, number>;
}

export class DropReport {
  private said = 0;
  private saidBy = new Map<string, number>();
  private lastTotal = 0;
  private lastReportAt = -Infinity;

  constructor(
    private readonly log: Logger,
    private readonly counts: () => DropCounts,
  ) {
    setInterval(() => this.check(), CHECK_MS).unref();
    log.onRecovered(() => this.check());
  }

  /** Says what was dropped and not said yet, unless lines are still being dropped and it was said lately (`last`: say it now). */
  check(last = false): void {
    const { total, workers } = this.counts();
    const growing = total > this.lastTotal;
    this.lastTotal = total;
    if (total <= this.said || (growing && !last && performance.now() - this.lastReportAt < EVERY_MS)) return;
    const by = [...workers].flatMap(([tag, n]) => (n > (this.saidBy.get(tag) ?? 0) ? [`${n - (this.saidBy.get(tag) ?? 0)} by worker ${tag}`] : []));
    const msg = `${total - this.said} lines of output were dropped${by.length > 0 ? ` (${by.join(', ')})` : ''}: the output took none for --log-stall-timeout, or a worker held --log-buffer; ${total} in all (logLinesDropped in hypnode status)`;
    if (!this.log.report(msg)) return;
    this.said = total;
    this.saidBy = new Map(workers);
    this.lastReportAt = performance.now();
  }
}
