import { readSync, writeSync } from 'node:fs';
import { BALANCE_RECORD_BYTES, BALANCE_SEATS, BALANCE_TABLE_BYTES, type BalanceSeat } from '../protocol/balance.js';

// Balanced accept. The workers accept on one shared socket, and libuv accepts every connection
// waiting whenever a worker wakes, so the first worker awake takes a proxy's whole pool of
// keep-alive connections. As nginx's workers do (ngx_accept_disabled), a worker that holds more
// than its share stops accepting until the others catch up: its share is reckoned against the
// least loaded serving worker, read from a table every worker of the manager writes its count
// to. The least loaded worker never pauses, so someone always takes connections (a paused
// worker looks again every few milliseconds); a worker whose record is stale (its event loop
// stuck) is left out of the reckoning, so nobody waits for it. Where connections come and go in
// milliseconds (clients without keep-alive), a count says nothing lasting about the load, and a
// pause (a handle closed and its spare fetched from the manager) would cost more than it evens
// out: a worker whose connections live short does not pause (measured: new-connection throughput
// 0.80x unbalanced before this rule).

/** How often a paused worker looks whether it may accept again. */
const RECHECK_MS = 5;
/** How long a worker may go without looking at the table while it stays well within its share. */
const SYNC_MS = 5;
/**
 * The same for a worker whose connections live short (it does not pause): others reckon with its
 * count, which stays about its mean. Every SYNC_MS, the writes and reads of the table (whose
 * writes the workers take turns at: 5 µs at the median, 52 at the 90th percentile) cost 1 % of
 * new-connection throughput.
 */
const CHURN_SYNC_MS = 50;
/** How often a worker writes its record even when nothing changed: its proof of life. */
const REFRESH_MS = 250;
/** A record older than this is a worker whose event loop is stuck (or gone): not counted. */
const STALE_MS = 1000;
/** Over how long a worker reckons how long its connections live. */
const CHURN_WINDOW_MS = 250;
/** Connections living less than this on average, the worker does not pause for them. */
const SHORT_LIVED_MS = 100;

/** The most connections a worker may hold while the least loaded serving worker holds `least`. */
export function shareLimit(least: number): number {
  // No slack while the counts are small (8 connections on 8 workers must be 1 each), and a
  // quarter above as they grow, so that short connections coming and going do not toggle it.
  return least + Math.floor(least / 4);
}

/**
 * Whether a worker holding `mine` open connections should pause accepting, when the other
 * serving workers hold `others`. A paused worker resumes a little below where it paused (an
 * eighth of the least), for the same reason.
 */
export function overShare(mine: number, others: readonly number[], paused: boolean): boolean {
  if (others.length === 0) return false;
  const least = Math.min(mine, ...others);
  const limit = shareLimit(least) - (paused ? Math.floor(least / 8) : 0);
  return mine > limit;
}

/** The counts of the records that are serving and fresh at `now`, but `own`'s. */
export function liveCounts(table: Buffer, own: number, now: number): number[] {
  const counts: number[] = [];
  for (let seat = 0; seat < BALANCE_SEATS; seat++) {
    if (seat === own) continue;
    const at = seat * BALANCE_RECORD_BYTES;
    if (table.readInt32LE(at) === 0) continue;
    if (now - table.readDoubleLE(at + 8) > STALE_MS) continue;
    counts.push(table.readInt32LE(at + 4));
  }
  return counts;
}

/**
 * Whether connections live less than SHORT_LIVED_MS on average: by Little's law, the mean
 * lifetime is the mean number open over the window times its length, over those that closed.
 */
export function shortLived(meanOpen: number, closed: number, windowMs: number): boolean {
  return closed * SHORT_LIVED_MS > meanOpen * windowMs;
}

export interface AcceptSwitch {
  /** Connections open now. */
  open(): number;
  /** Stops accepting; false when it cannot yet (then it goes on accepting). */
  pause(): boolean;
  resume(): void;
}

export class Balancer {
  private readonly table = Buffer.alloc(BALANCE_TABLE_BYTES);
  private readonly record = Buffer.alloc(BALANCE_RECORD_BYTES);
  private serving = false;
  private paused = false;
  private syncedAt = 0;
  /** While the worker holds no more than this, an accept needs no look at the table (for SYNC_MS). */
  private room = 0;
  private refresh: NodeJS.Timeout | null = null;
  private recheck: NodeJS.Timeout | null = null;
  /** Connections accepted since start. */
  private accepts = 0;
  /** Where the current churn window began. */
  private window = { at: 0, accepts: 0, open: 0 };
  private churning = false;

  constructor(
    private readonly where: BalanceSeat,
    private readonly accept: AcceptSwitch,
  ) {}

  /** The worker accepts (again): it counts from now on. */
  start(): void {
    if (this.serving) return;
    this.serving = true;
    this.paused = false;
    this.churning = false;
    const now = Date.now();
    this.window = { at: now, accepts: this.accepts, open: this.accept.open() };
    this.sync(now);
    this.refresh = setInterval(() => this.look(), REFRESH_MS);
    this.refresh.unref();
  }

  /** The worker drains: it holds no share any more (its servers are closing, paused or not). */
  stop(): void {
    if (!this.serving) return;
    this.serving = false;
    this.paused = false;
    clearInterval(this.refresh ?? undefined);
    clearInterval(this.recheck ?? undefined);
    this.refresh = this.recheck = null;
    this.record.fill(0);
    writeSync(this.where.fd, this.record, 0, BALANCE_RECORD_BYTES, this.where.seat * BALANCE_RECORD_BYTES);
  }

  /** After each connection accepted: cheap unless the worker nears its share. */
  accepted(): void {
    this.accepts++;
    if (!this.serving || this.paused) return;
    const since = Date.now() - this.syncedAt;
    // A churning worker does not pause, so above its share it looks (a write and a read of the
    // table) at its own pace, not at every accept: that cost 10% of new-connection throughput.
    if (this.churning ? since < CHURN_SYNC_MS : since < SYNC_MS && this.accept.open() <= this.room) return;
    this.look();
  }

  private look(): void {
    if (!this.serving) return;
    const now = Date.now();
    const mine = this.accept.open();
    const others = this.sync(now, mine);
    this.reckonChurn(now, mine);
    const over = !this.churning && overShare(mine, others, this.paused);
    if (over && !this.paused && this.accept.pause()) {
      this.paused = true;
      // Ref'd: with its listening handles closed, nothing else may keep a paused worker alive.
      this.recheck = setInterval(() => this.look(), RECHECK_MS);
    } else if (!over && this.paused) {
      this.paused = false;
      clearInterval(this.recheck ?? undefined);
      this.recheck = null;
      this.accept.resume();
    }
  }

  /** At the end of each window: whether the connections of the last one lived short. */
  private reckonChurn(now: number, mine: number): void {
    const windowMs = now - this.window.at;
    if (windowMs < CHURN_WINDOW_MS) return;
    const closed = this.accepts - this.window.accepts - (mine - this.window.open);
    this.churning = shortLived((mine + this.window.open) / 2, closed, windowMs);
    this.window = { at: now, accepts: this.accepts, open: mine };
  }

  /** Writes this worker's record and reads the others'. */
  private sync(now: number, mine = this.accept.open()): number[] {
    this.record.writeInt32LE(process.pid, 0);
    this.record.writeInt32LE(mine, 4);
    this.record.writeDoubleLE(now, 8);
    writeSync(this.where.fd, this.record, 0, BALANCE_RECORD_BYTES, this.where.seat * BALANCE_RECORD_BYTES);
    readSync(this.where.fd, this.table, 0, BALANCE_TABLE_BYTES, 0);
    this.syncedAt = now;
    const others = liveCounts(this.table, this.where.seat, now);
    this.room = others.length === 0 ? Infinity : shareLimit(Math.min(mine, ...others));
    return others;
  }
}
