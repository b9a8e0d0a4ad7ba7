import { close, closeSync, fstatSync, openSync, write, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { atomicCut, countLines, PIPE_BUF } from '../log-lines.js';
import { loadNative, orWithoutAddon, outputLock, setNonBlocking, writeSome } from '../native.js';

// Where the manager's output goes: its stdout or stderr, or a --log-file. Writing never blocks
// the manager: a sink nobody reads (a stalled pipe, a full disk) must not stop it from
// supervising, reloading and answering. What waits meanwhile is bounded; beyond the bound whole
// lines are dropped and counted (said in the log by drop-report.ts, first once the sink takes
// lines again).
//
// A sink the workers may write to themselves (see worker/output.ts) is "shared": a regular file,
// where every write() is atomic, or a pipe or socket made non-blocking, whose writers take turns
// by a lock in shared memory. The manager writes to it as they do, batched once per turn of its
// event loop, as far as the sink takes it, the rest later (a large batch begun is finished first
// and alone: it holds the sink meanwhile). A terminal is never shared (non-blocking would leak into the shell's terminal): the
// manager alone writes to it, in the background, on libuv's thread pool.

/** Output held while the sink is busy or stalled. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** A sink that took nothing (full) or was held by a worker: try again this much later. */
const RETRY_MS = 20;

/** An exiting manager waits this long for a full pipe's reader to take some, at most (as --log-stall-timeout's default). */
const EXIT_STALL_MS = 10_000;

/** Writes to a shared sink in one turn of the event loop, at most (a pipe's buffer is 16 of PIPE_BUF). */
const WRITES_PER_TURN = 16;
/** What a shared sink may say for a while: another writer's turn, a full disk. */
const WAIT_ON = new Set(['busy', 'ENOSPC', 'EDQUOT', 'ENOBUFS']);

/** How workers reach a shared sink: the fd to pass them, and its lock (-1: none needed). */
export interface SharedSink {
  fd: number;
  lockFd: number;
}

let lockFd: number | null = null;

/** One lock for every shared pipe and socket of this manager (they may be one: `2>&1`). */
function theLock(): number {
  lockFd ??= outputLock();
  return lockFd;
}

/** The lock, if one was made: a successor manager takes turns with this one's workers by it. */
export function outputLockFd(): number | null {
  return lockFd;
}

/** A successor manager uses its predecessor's lock: while both generations write, one lock. */
export function adoptOutputLock(fd: number): void {
  lockFd = fd;
}

export class Sink {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The rest of a batch the sink took part of: written next, alone. */
  private rest: Buffer | null = null;
  private busy = false;
  /** Bytes given to write, and bytes written or dropped since: what whenWritten() waits for. */
  private given = 0;
  private settled = 0;
  private waiting: { upTo: number; done: () => void }[] = [];
  private fd: number;
  /** The fd a reopen() replaced while a write on it was in flight: closed when that write is done. */
  private closeAfterWrite: number | null = null;
  /** Lines dropped in all; and whether some were since the sink last took any. */
  dropped = 0;
  private dropping = false;
  /** Called when lines were dropped and the sink takes lines again: a moment to say so. */
  onRecovered: () => void = () => {};
  /** Set when workers may write to this sink themselves. */
  readonly shared: SharedSink | null;

  constructor(
    fd: number,
    /** A --log-file, which reopen() opens again (after logrotate renamed it). */
    readonly path: string | null = null,
  ) {
    this.fd = fd;
    this.shared = share(fd);
  }

  static file(path: string): Sink {
    return new Sink(openLog(path), path);
  }

  /** Whether the sink took the text (it is written once the sink takes it), or dropped it. */
  write(text: string): boolean {
    return this.writeParts([Buffer.from(text)]);
  }

  /** Whole lines, in parts (a tag, the line): all taken, or all dropped. */
  writeParts(parts: Buffer[]): boolean {
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      this.drop(parts.reduce((n, p) => n + countLines(p), 0));
      return false;
    }
    for (const part of parts) {
      this.pending.push(part);
      this.pendingBytes += part.length;
      this.given += part.length;
    }
    if (this.busy) return true;
    this.busy = true;
    if (this.shared) setImmediate(() => this.flushShared());
    else this.flushAsync();
    return true;
  }

  /**
   * Calls `done` once everything given so far is written (or dropped): then a worker may write
   * its lines itself, and none overtakes one it wrote through the manager.
   */
  whenWritten(done: () => void): void {
    if (this.settled >= this.given) return done();
    this.waiting.push({ upTo: this.given, done });
  }

  /** Opens the file again by its name: new lines go to whatever file has the name now. */
  reopen(): void {
    if (!this.path) return;
    const fresh = openLog(this.path);
    const old = this.fd;
    this.fd = fresh;
    if (this.shared) this.shared.fd = fresh;
    // A write in flight still holds the old fd: it is closed once that write is done.
    if (this.busy && !this.shared) this.closeAfterWrite = old;
    else close(old, () => {});
  }

  /**
   * Writes what is pending now, synchronously: at exit, nothing may be left behind. A shared pipe
   * is non-blocking: while its reader takes some within EXIT_STALL_MS, it is waited for.
   */
  drainSync(): void {
    const rest = this.rest ? Buffer.concat([this.rest, this.take()]) : this.take();
    this.rest = null;
    const nap = new Int32Array(new SharedArrayBuffer(4));
    let since = performance.now();
    try {
      for (let off = 0; off < rest.length; ) {
        try {
          off += writeSync(this.fd, rest, off);
          since = performance.now();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || performance.now() - since >= EXIT_STALL_MS) throw err;
          Atomics.wait(nap, 0, 0, 2);
        }
      }
    } catch {
      // A sink that cannot take it at exit: nothing more to do.
    }
  }

  close(): void {
    this.drainSync();
    if (this.path) closeSync(this.fd);
  }

  /** Shared sinks: every line pending, under the lock, as far as the sink takes it now. */
  private flushShared(): void {
    let took = false;
    // A turn writes what the sink takes now, a bounded number of writes at most.
    for (let i = 0; i < WRITES_PER_TURN && (this.rest || this.pending.length > 0); i++) {
      took = this.writeShared();
      if (!took) break;
    }
    if (!this.rest && this.pending.length === 0) this.busy = false;
    // The manager never waits: what the sink cannot take now waits here, bounded.
    else if (took) setImmediate(() => this.flushShared());
    else setTimeout(() => this.flushShared(), RETRY_MS).unref();
  }

  /** One write: whether the sink took any of it. */
  private writeShared(): boolean {
    const batch = this.rest ?? this.takeFront();
    this.rest = null;
    const done = writeSome(this.shared!.lockFd, this.fd, batch, 0);
    // A full disk may have room later: what waits is bounded, and lost only past the bound.
    if (typeof done === 'string' && !WAIT_ON.has(done)) {
      this.settle(batch, 0);
      return false;
    }
    const went = typeof done === 'number' ? done : 0;
    if (went === 0) {
      this.requeue(batch);
      return false;
    }
    if (went < batch.length) this.rest = batch.subarray(went);
    this.settle(null, went);
    return true;
  }

  /** A terminal (or no addon): one write at a time on the thread pool. */
  private flushAsync(): void {
    const batch = this.take();
    write(this.fd, batch, 0, batch.length, null, (err, written) => {
      if (this.closeAfterWrite !== null) {
        close(this.closeAfterWrite, () => {});
        this.closeAfterWrite = null;
      }
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
        this.requeue(batch);
        setTimeout(() => this.flushAsync(), RETRY_MS).unref();
        return;
      }
      if (!err && written < batch.length) {
        this.requeue(batch.subarray(written));
        this.settle(null, written);
      } else this.settle(err ? batch : null, err ? 0 : written);
      if (this.pending.length > 0) this.flushAsync();
      else this.busy = false;
    });
  }

  /**
   * What to write next to a shared sink: under a lock, the whole lines at the front that make one
   * atomic write (see atomicCut), copying no more than that; else everything pending.
   */
  private takeFront(): Buffer {
    if (this.shared!.lockFd < 0) return this.take();
    let n = 0;
    let bytes = 0;
    while (n < this.pending.length && bytes < PIPE_BUF) bytes += this.pending[n++]!.length;
    const front = n === 1 ? this.pending[0]! : Buffer.concat(this.pending.slice(0, n), bytes);
    this.pending.splice(0, n);
    this.pendingBytes -= bytes;
    const cut = atomicCut(front);
    if (cut < front.length) this.requeue(front.subarray(cut));
    return front.subarray(0, cut);
  }

  private take(): Buffer {
    const batch = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return batch;
  }

  private requeue(buf: Buffer): void {
    this.pending.unshift(buf);
    this.pendingBytes += buf.length;
  }

  /** `went` bytes went, or a batch is lost (a broken pipe): count it, or tell of earlier losses. */
  private settle(lost: Buffer | null, went: number): void {
    this.done(lost ? lost.length : went);
    if (lost) return this.drop(countLines(lost));
    if (!this.dropping) return;
    this.dropping = false;
    this.onRecovered();
  }

  private done(bytes: number): void {
    this.settled += bytes;
    while (this.waiting.length > 0 && this.waiting[0]!.upTo <= this.settled) this.waiting.shift()!.done();
  }

  private drop(lines: number): void {
    this.dropping = true;
    this.dropped += lines;
  }
}

/** Whether workers may write to `fd` themselves (and how), or null: a terminal, or no addon. */
function share(fd: number): SharedSink | null {
  if (isatty(fd)) return null;
  return orWithoutAddon((): SharedSink => {
    loadNative();
    if (fstatSync(fd).isFile()) return { fd, lockFd: -1 };
    setNonBlocking(fd);
    return { fd, lockFd: theLock() };
  }, null);
}

function openLog(path: string): number {
  return openSync(path, 'a', 0o640);
}
