import { atomicCut, countLines, PIPE_BUF } from '../log-lines.js';
import { writeSome, writeText } from '../native.js';

// What a worker holds of its output while a sink is slower than the app: whole lines, in the
// order written, up to a budget in bytes shared by the worker's sinks, written as the sink takes
// them. The sink is never waited for (it is non-blocking, see writeSome in native/): a line it
// cannot take now is held, and a timer comes back for it, soon while the sink takes some (a
// reader at work), less often while it takes none. A timer, rather than a watcher on the fd:
// a regular file is never "writable later" to epoll, a full disk frees up without an event, and
// a sink held by another writer (a large line under way) is no fd event either; a timer covers
// them all, and costs nothing while nothing is held. A line is dropped (and counted) only when
// the budget is full, or when the sink has taken nothing at all for the stall window: then what
// is held goes, and each line after it, until the sink takes one again.

/** Lines batched into one write to a sink no other writer shares (a file, a journal stream), at most. */
const MAX_BATCH_BYTES = 64 * 1024;
/** A turn's plain lines written at once when they reach this many characters (as a file write, a batch's size). */
const MAX_PENDING_CHARS = 16 * 1024;
/**
 * Plain lines written less than this after the last write wait for each other (at most this long)
 * to go as one: with a new connection a request, a turn serves one request, and a write a line
 * cost the sink's reader a wake-up a line (journald: 45 µs of CPU a line, 24 with 1 ms, 20 with 3).
 */
const BATCH_MS = 2;
const NO_LEAD = Buffer.alloc(0);
/** How soon the timer comes back: at once while the sink takes lines, backing off while it takes none. */
const RETRY_MIN_MS = 1;
const RETRY_MAX_MS = 50;
/** What a sink says when it may take lines later (another writer's turn, a full disk); any other error is for good. */
const PASSING = new Set(['busy', 'ENOSPC', 'EDQUOT', 'ENOBUFS', 'EAGAIN']);

/** Bytes held by all of a worker's queues, and how many they may hold. */
export interface Budget {
  held: number;
  readonly limit: number;
}

export interface Target {
  fd: number;
  /** The sink's lock (see outputLock in native/), or -1: its writes need none. */
  lockFd: number;
}

interface Held {
  bytes: Buffer;
  lines: number;
}

export class OutputQueue {
  private held: Held[] = [];
  /** Bytes of the first held batch already written: a large line under way, finished before any other. */
  private offset = 0;
  private timer: NodeJS.Timeout | null = null;
  private delay = RETRY_MIN_MS;
  /** When the sink last took something (or, holding nothing before, first refused). */
  private since = 0;
  /** The sink took nothing for the stall window: lines go until it takes one again. */
  private stalled = false;
  /** This turn's plain lines (see text()), and how many. */
  private pending = '';
  private pendingLines = 0;
  private turnEnd: NodeJS.Immediate | NodeJS.Timeout | null = null;
  /** When plain lines were last written. */
  private wroteAt = -Infinity;

  constructor(
    private target: Target,
    private readonly budget: Budget,
    private readonly stallMs: number,
    private readonly dropped: (lines: number) => void,
    private readonly batchMs = BATCH_MS,
  ) {}

  /** Writes to another sink from now on (a reopened log file, a journal stream of its own). */
  retarget(target: Target): void {
    this.writePending();
    this.target = target;
  }

  /**
   * One plain line, given as a string, behind `lead`: kept with the others of this event-loop
   * turn, and written with them as one write when the turn ends (or the batch is large), so that
   * a turn that serves several requests makes one system call, not one per line; within BATCH_MS
   * of the last write, with those of the turns that follow, until BATCH_MS after it.
   */
  text(lead: string, text: string): void {
    this.pending += lead + text;
    this.pendingLines++;
    if (this.pending.length >= MAX_PENDING_CHARS) this.writePending();
    else if (this.turnEnd === null) {
      const wait = this.wroteAt + this.batchMs - performance.now();
      if (wait <= 0) this.turnEnd = setImmediate(this.endTurn);
      else (this.turnEnd = setTimeout(this.endTurn, wait)).unref();
    }
  }

  /** The lines of this turn go now: before any other write, so that none overtakes them. */
  writePending(): void {
    if (this.pendingLines === 0) return;
    const text = this.pending;
    const lines = this.pendingLines;
    this.pending = '';
    this.pendingLines = 0;
    this.wroteAt = performance.now();
    // Encoded by the addon straight from the string when it may go at once as one write (under a
    // lock, only what is surely atomic: lines() cuts a larger batch at line ends).
    if (this.held.length > 0 || this.stalled || (this.target.lockFd >= 0 && text.length * 3 > PIPE_BUF)) return this.lines(Buffer.from(text), lines);
    const left = writeText(this.target.lockFd, this.target.fd, NO_LEAD, text);
    if (left === 0) return;
    if (typeof left === 'number') {
      const bytes = Buffer.from(text);
      this.hold(bytes, lines, bytes.length - left);
    } else if (PASSING.has(left)) this.hold(Buffer.from(text), lines, 0);
    else this.dropped(lines);
  }

  private readonly endTurn = (): void => {
    this.turnEnd = null;
    this.writePending();
  };

  /** Whole lines (`lines` of them) as bytes. */
  lines(bytes: Buffer, lines: number): void {
    this.writePending();
    // Under a lock, in pieces each written atomically (see atomicCut): the counts stay per line.
    if (this.target.lockFd >= 0 && lines > 1 && bytes.length > PIPE_BUF) {
      for (let start = 0, end = 0; start < bytes.length; start = end) {
        end = start + atomicCut(bytes.subarray(start));
        const piece = bytes.subarray(start, end);
        this.lines(piece, countLines(piece));
      }
      return;
    }
    if (this.held.length > 0 || this.stalled) return this.hold(bytes, lines, 0);
    const done = writeSome(this.target.lockFd, this.target.fd, bytes, 0);
    if (done === bytes.length) return;
    if (typeof done === 'number') this.hold(bytes, lines, done);
    else if (PASSING.has(done)) this.hold(bytes, lines, 0);
    else this.dropped(lines);
  }

  /**
   * At exit, synchronously: what is held is written, waiting for the sink as long as it takes
   * some within the stall window; what it will not take is dropped.
   */
  finish(): void {
    this.writePending();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const nap = new Int32Array(new SharedArrayBuffer(4));
    while (this.held.length > 0) {
      const now = performance.now();
      if (this.flush()) this.since = now;
      else if (this.stalled || now - this.since >= this.stallMs) break;
      else Atomics.wait(nap, 0, 0, 2);
    }
    // The process ends: a line under way is lost too.
    this.offset = 0;
    this.dropHeld();
  }

  private hold(bytes: Buffer, lines: number, offset: number): void {
    // A line under way (offset > 0) is kept whatever the budget: it is finished, never torn.
    if (offset === 0 && this.budget.held + bytes.length > this.budget.limit) return this.dropped(lines);
    if (this.held.length === 0) {
      this.offset = offset;
      if (!this.stalled) this.since = performance.now();
    }
    this.held.push({ bytes, lines });
    this.budget.held += bytes.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.tick(), this.delay);
    // Held lines do not keep the app alive: at exit, finish() writes them.
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    const now = performance.now();
    if (this.flush()) {
      this.since = now;
      this.stalled = false;
      this.delay = RETRY_MIN_MS;
    } else {
      this.delay = Math.min(this.delay * 2, RETRY_MAX_MS);
      if (now - this.since >= this.stallMs) {
        this.stalled = true;
        this.dropHeld();
      }
    }
    if (this.held.length > 0) this.schedule();
  }

  /** Writes held lines while the sink takes them; whether it took any. */
  private flush(): boolean {
    let progress = false;
    while (this.held.length > 0) {
      const { batch, count } = this.nextBatch();
      const start = count === 1 ? this.offset : 0;
      const done = writeSome(this.target.lockFd, this.target.fd, batch, start);
      if (typeof done === 'string') {
        if (!PASSING.has(done)) {
          this.offset = 0;
          this.dropHeld();
        }
        break;
      }
      if (done > start) progress = true;
      this.consume(done, count);
      if (done < batch.length) break;
    }
    return progress;
  }

  /** The first held lines, batched as one write: a line under way alone, else up to the sink's atomic size. */
  private nextBatch(): { batch: Buffer; count: number } {
    const first = this.held[0]!.bytes;
    if (this.offset > 0) return { batch: first, count: 1 };
    const most = this.target.lockFd >= 0 ? PIPE_BUF : MAX_BATCH_BYTES;
    let count = 1;
    let bytes = first.length;
    while (count < this.held.length && bytes + this.held[count]!.bytes.length <= most) bytes += this.held[count++]!.bytes.length;
    return { batch: count === 1 ? first : Buffer.concat(this.held.slice(0, count).map((h) => h.bytes), bytes), count };
  }

  /** `written` bytes of the first `count` held batches went (counting from the first's start). */
  private consume(written: number, count: number): void {
    let left = written;
    for (let i = 0; i < count; i++) {
      const first = this.held[0]!;
      if (left < first.bytes.length) {
        this.offset = left;
        return;
      }
      left -= first.bytes.length;
      this.held.shift();
      this.budget.held -= first.bytes.length;
      this.offset = 0;
    }
  }

  /** Drops what is held, but a line under way. */
  private dropHeld(): void {
    const keep = this.offset > 0 ? this.held.splice(0, 1) : [];
    let lines = 0;
    for (const h of this.held) {
      lines += h.lines;
      this.budget.held -= h.bytes.length;
    }
    this.held = keep;
    if (lines > 0) this.dropped(lines);
  }
}
