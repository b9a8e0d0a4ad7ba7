import { close, closeSync, fstatSync, openSync, write, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { loadNative, NativeAddonError, outputLock, setNonBlocking, writeLines } from '../native.js';

// Where the manager's output goes: its stdout or stderr, or a --log-file. Writing never blocks
// the manager: a sink nobody reads (a stalled pipe, a full disk) must not stop it from
// supervising, reloading and answering. What waits meanwhile is bounded; beyond the bound whole
// lines are dropped and counted, and the count is reported once the sink takes lines again.
//
// A sink the workers may write to themselves (see worker/output.ts) is "shared": a regular file,
// where every write() is atomic, or a pipe or socket made non-blocking, whose writers take turns
// by a lock in shared memory. The manager writes to it as they do, batched once per turn of its
// event loop. A terminal is never shared (non-blocking would leak into the shell's terminal): the
// manager alone writes to it, in the background, on libuv's thread pool.

/** Output held while the sink is busy or stalled. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** A sink that took nothing (full) or was held by a worker: try again this much later. */
const RETRY_MS = 20;

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
  private busy = false;
  private fd: number;
  /** The fd a reopen() replaced while a write on it was in flight: closed when that write is done. */
  private closeAfterWrite: number | null = null;
  /** Lines dropped since the last report, and in all. */
  private droppedNow = 0;
  dropped = 0;
  /** Called when lines were dropped and the sink takes lines again: the count to report. */
  onRecovered: (lines: number) => void = () => {};
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

  write(text: string): void {
    this.writeParts([Buffer.from(text)]);
  }

  /** Whole lines, in parts (a tag, the line): all taken, or all dropped. */
  writeParts(parts: Buffer[]): void {
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      this.drop(parts.reduce((n, p) => n + countLines(p), 0));
      return;
    }
    for (const part of parts) {
      this.pending.push(part);
      this.pendingBytes += part.length;
    }
    if (this.busy) return;
    this.busy = true;
    if (this.shared) setImmediate(() => this.flushShared());
    else this.flushAsync();
  }

  /** Writes what is pending now, if the sink takes it without waiting (a shared sink only). */
  flushNow(): void {
    if (!this.shared || this.pending.length === 0) return;
    const batch = this.take();
    const outcome = writeLines(this.shared.lockFd, this.fd, batch, 0);
    if (outcome === 'full' || outcome === 'busy') this.requeue(batch);
    else this.settle(outcome === 'ok' ? null : batch);
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

  /** Writes what is pending now, synchronously: at exit, nothing may be left behind. */
  drainSync(): void {
    const rest = this.take();
    try {
      for (let off = 0; off < rest.length; ) off += writeSync(this.fd, rest, off);
    } catch {
      // A sink that cannot take it at exit: nothing more to do.
    }
  }

  close(): void {
    this.drainSync();
    if (this.path) closeSync(this.fd);
  }

  /** Shared sinks: one write of every line pending, under the lock, without blocking. */
  private flushShared(): void {
    const batch = this.take();
    // The manager never waits: what the sink cannot take now waits here, bounded.
    const outcome = writeLines(this.shared!.lockFd, this.fd, batch, 0);
    if (outcome === 'full' || outcome === 'busy') {
      this.requeue(batch);
      setTimeout(() => this.flushShared(), RETRY_MS).unref();
      return;
    }
    this.settle(outcome === 'ok' ? null : batch);
    if (this.pending.length > 0) setImmediate(() => this.flushShared());
    else this.busy = false;
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
      if (!err && written < batch.length) this.requeue(batch.subarray(written));
      else this.settle(err ? batch : null);
      if (this.pending.length > 0) this.flushAsync();
      else this.busy = false;
    });
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

  /** A batch went (null) or is lost (a full disk, a broken pipe): count it, or report earlier losses. */
  private settle(lost: Buffer | null): void {
    if (lost) return this.drop(countLines(lost));
    if (this.droppedNow === 0) return;
    const lines = this.droppedNow;
    this.droppedNow = 0;
    this.onRecovered(lines);
  }

  private drop(lines: number): void {
    this.droppedNow += lines;
    this.dropped += lines;
  }
}

/** Whether workers may write to `fd` themselves (and how), or null: a terminal, or no addon. */
function share(fd: number): SharedSink | null {
  if (isatty(fd)) return null;
  try {
    loadNative();
    if (fstatSync(fd).isFile()) return { fd, lockFd: -1 };
    setNonBlocking(fd);
    return { fd, lockFd: theLock() };
  } catch (err) {
    if (err instanceof NativeAddonError) return null;
    throw err;
  }
}

function openLog(path: string): number {
  return openSync(path, 'a', 0o640);
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return n;
}
