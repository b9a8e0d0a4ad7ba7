import { close, closeSync, openSync, write, writeSync } from 'node:fs';

// Where the manager's output goes: its stdout or stderr, or a --log-file. Writes never block
// the manager (they run on libuv's thread pool, one at a time, batched): a sink nobody reads (a
// stalled pipe, a full disk) must not stop it from supervising, reloading and answering. What
// piles up meanwhile is bounded; beyond the bound whole lines are dropped and counted, and the
// count is reported once the sink takes lines again.

/** Output held while a write is in flight or the sink is stalled. */
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** After EAGAIN (a non-blocking pipe that is full), wait this long before trying again. */
const RETRY_MS = 20;

export class Sink {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private writing = false;
  private fd: number;
  /** The fd a reopen() replaced while a write on it was in flight: closed when that write is done. */
  private closeAfterWrite: number | null = null;
  /** Lines dropped since the last report, and in all. */
  private droppedNow = 0;
  dropped = 0;
  /** Called when lines were dropped and the sink takes lines again: the count to report. */
  onRecovered: (lines: number) => void = () => {};

  constructor(
    fd: number,
    /** A --log-file, which reopen() opens again (after logrotate renamed it). */
    readonly path: string | null = null,
  ) {
    this.fd = fd;
  }

  static file(path: string): Sink {
    return new Sink(openLog(path), path);
  }

  write(text: string): void {
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      const lines = countLines(text);
      this.droppedNow += lines;
      this.dropped += lines;
      return;
    }
    const chunk = Buffer.from(text);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (!this.writing) this.flush();
  }

  /** Opens the file again by its name: new lines go to whatever file has the name now. */
  reopen(): void {
    if (!this.path) return;
    const fresh = openLog(this.path);
    const old = this.fd;
    this.fd = fresh;
    // A write in flight still holds the old fd: it is closed once that write is done.
    if (this.writing) this.closeAfterWrite = old;
    else close(old, () => {});
  }

  /** Writes what is pending now, synchronously: at exit, nothing may be left behind. */
  drainSync(): void {
    const rest = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
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

  private flush(): void {
    this.writing = true;
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    write(this.fd, buf, 0, buf.length, null, (err, written) => {
      if (this.closeAfterWrite !== null) {
        close(this.closeAfterWrite, () => {});
        this.closeAfterWrite = null;
      }
      if (err && (err as NodeJS.ErrnoException).code === 'EAGAIN') {
        this.requeue(buf);
        setTimeout(() => this.flush(), RETRY_MS).unref();
        return;
      }
      if (err) {
        // A full disk or a broken pipe: these lines are lost, and counted.
        const lines = countLines(buf);
        this.droppedNow += lines;
        this.dropped += lines;
      } else if (written < buf.length) {
        this.requeue(buf.subarray(written));
      } else if (this.droppedNow > 0) {
        const lines = this.droppedNow;
        this.droppedNow = 0;
        this.onRecovered(lines);
      }
      this.writing = false;
      if (this.pending.length > 0) this.flush();
    });
  }

  private requeue(buf: Buffer): void {
    this.pending.unshift(buf);
    this.pendingBytes += buf.length;
  }
}

function openLog(path: string): number {
  return openSync(path, 'a', 0o640);
}

function countLines(text: string | Buffer): number {
  let n = 0;
  const buf = typeof text === 'string' ? Buffer.from(text) : text;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return n || 1;
}
