import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { basename } from 'node:path';
import { journalStream } from '../native.js';
import type { OutputConfig, OutputStream } from '../protocol/worker.js';
import { LastWords } from './last-words.js';
import { OutputQueue, type Budget } from './output-queue.js';

// Once a worker is ready, its app's output goes straight to where the manager's goes (its stdout
// or stderr, or --log-file), as node's cluster workers write theirs: at request rate a line per
// request, and the manager, passing each on, was a third busy process on every line (measured:
// 0.7x the requests per second of cluster with per-request logging). Each line is tagged here as
// the manager would tag it (`[g2 1234] `, its journald priority, or the JSON record), whole
// lines only (a partial line waits for its end, or for the exit), and written under the sink's
// lock (see writeSome in native/), the plain lines of an event-loop turn (or of a few ms, see BATCH_MS) as one write. A sink slower than the app never blocks it: its lines are held
// in order and written as the sink takes them (see output-queue.ts), and dropped and counted only
// when the worker's budget is full or the sink took nothing for the stall window; the count goes
// to the manager with the heartbeats. Before the worker is ready its output still goes through
// the manager, which keeps the last of it for a failed reload to show; so do the runtime's own
// last words (a fatal
// error's stack, written to fd 2 from C++).

const LEVELS = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug'];
const MAX_PARTIAL_BYTES = 1024 * 1024;
/** Lines held until the manager says go ahead (see release()), at most. */
const MAX_HELD_BYTES = 16 * 1024 * 1024;

interface Identity {
  generation: number;
  pid: number;
}

type Chunk = string | Uint8Array;

class Stream {
  private partial: Buffer | null = null;
  private readonly tag: Buffer;
  /** The tag with the stream's default journald priority: the whole prefix of a plain line. */
  private readonly lead: string;
  /** Lines written before the manager said go ahead: written first, then. */
  private held: Buffer[][] | null = [];
  private heldBytes = 0;

  constructor(
    readonly name: 'stdout' | 'stderr',
    private readonly target: OutputStream,
    /** Where its lines wait for the sink: its own, or its sibling's when both write to one sink. */
    readonly queue: OutputQueue,
    /** stderr's: stdout's queue when it is another (journald's streams), written before each line. */
    private readonly before: OutputQueue | null,
    private readonly format: 'text' | 'json',
    private readonly who: Identity,
    private readonly dropped: (lines: number) => void,
    /** What it wrote last, kept for the worker's exit (see last-words.ts). */
    private readonly lastWords: LastWords,
  ) {
    this.tag = Buffer.from(`[g${who.generation} ${who.pid}] `);
    this.lead = `${target.journal ? `<${name === 'stdout' ? 6 : 4}>` : ''}[g${who.generation} ${who.pid}] `;
  }

  push(chunk: Chunk, encoding?: BufferEncoding): void {
    this.lastWords.keep(chunk, encoding);
    // An error goes at once (below): stdout's lines written before it, to a stream of their own,
    // go first, so that it does not overtake them.
    this.before?.writePending();
    // At request rate, nearly every write is one whole line of text (console.log, a logger's
    // line): one string, batched with the others of the turn (see OutputQueue.text), no Buffer made.
    if (typeof chunk === 'string' && this.held === null && this.partial === null && this.format === 'text' && (encoding === undefined || encoding === 'utf8') && isOneLine(chunk)) {
      this.queue.text(this.lead, chunk);
      // stderr is unbuffered, as C's stdio has it: an error said just before the event loop
      // hangs (and the heartbeat's kill) is the line that matters then; stdout's wait (see BATCH_MS).
      if (this.name === 'stderr') this.queue.writePending();
      return;
    }
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: Buffer[] = [];
    let start = 0;
    for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
      const line = bytes.subarray(start, nl + 1);
      lines.push(this.partial ? Buffer.concat([this.partial, line]) : line);
      this.partial = null;
      start = nl + 1;
    }
    if (start < bytes.length) {
      // Copied: the caller may reuse its buffer.
      const rest = Buffer.from(bytes.subarray(start));
      this.partial = this.partial ? Buffer.concat([this.partial, rest]) : rest;
      if (this.partial.length > MAX_PARTIAL_BYTES) this.flushPartial();
    }
    if (lines.length > 0) this.write(lines);
  }

  /** A last line without its newline (at exit) is written all the same. */
  flushPartial(): void {
    if (!this.partial) return;
    const line = Buffer.concat([this.partial, Buffer.from('\n')]);
    this.partial = null;
    this.write([line]);
  }

  /** The manager has passed on all this worker wrote before: what was held goes now, in order. */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const lines of held) this.write(lines);
  }

  private write(lines: Buffer[]): void {
    if (this.held) {
      const bytes = lines.reduce((n, l) => n + l.length, 0);
      if (this.heldBytes + bytes > MAX_HELD_BYTES) return this.dropped(lines.length);
      this.held.push(lines);
      this.heldBytes += bytes;
      return;
    }
    const parts: Buffer[] = [];
    for (const line of lines) {
      const given = givenPriority(line);
      const priority = given ?? (this.name === 'stdout' ? 6 : 4);
      const text = given === null ? line : line.subarray(3);
      const prefix = this.target.journal ? `<${priority}>` : '';
      if (this.format === 'json') {
        const { generation, pid } = this.who;
        const msg = text.subarray(0, text.length - 1).toString('utf8');
        parts.push(Buffer.from(`${prefix}${JSON.stringify({ time: new Date().toISOString(), level: LEVELS[priority], source: 'worker', pid, generation, stream: this.name, msg })}\n`));
      } else {
        if (prefix) parts.push(Buffer.from(prefix));
        parts.push(this.tag, text);
      }
    }
    this.queue.lines(parts.length === 1 ? parts[0]! : Buffer.concat(parts), lines.length);
  }
}

/** One line and its newline, with no priority of its own. */
function isOneLine(text: string): boolean {
  const nl = text.indexOf('\n');
  return nl === text.length - 1 && !(text.length >= 3 && text.charCodeAt(0) === 0x3c && text.charCodeAt(2) === 0x3e);
}

/** A line may carry its own sd-daemon priority (`<3>`), as journald-aware apps write them. */
function givenPriority(line: Buffer): number | null {
  return line.length >= 3 && line[0] === 0x3c && line[1]! >= 0x30 && line[1]! <= 0x37 && line[2] === 0x3e ? line[1]! - 0x30 : null;
}

export interface DirectOutput {
  /** Lines dropped so far because the sink took none. */
  readonly dropped: number;
  /** The manager has passed on what came before: write for real. */
  release(): void;
  /** Opens --log-file again by its name (after logrotate renamed it). */
  reopen(): void;
  /** Writes what is held now, synchronously (the worker is about to exit): see OutputQueue.finish(). */
  finish(): void;
}

/**
 * From now on the app's writes to stdout and stderr (process.stdout/stderr, console, and
 * fs.write/writeSync on fds 1 and 2, as pino's sonic-boom does) go straight to the sinks: first
 * a marker down each pipe to the manager, and the lines held until it says (release()) that it
 * has passed on everything up to the marker, so that no line overtakes one written before.
 */
export function writeDirectly(config: OutputConfig, who: Identity): DirectOutput {
  process.stdout.write(`${config.marker}\n`);
  process.stderr.write(`${config.marker}\n`);
  let dropped = 0;
  const count = (lines: number) => void (dropped += lines);
  // Under journald, each stream its own stream to it; else the manager's sinks, one lock for both.
  const targetOf = (stream: OutputStream, name: 'stdout' | 'stderr') => {
    const own = stream.journal ? openJournalStream(name) : null;
    return own === null ? { fd: stream.fd, lockFd: stream.lockFd } : { fd: own, lockFd: -1 };
  };
  const out = targetOf(config.stdout, 'stdout');
  const err = targetOf(config.stderr, 'stderr');
  const budget: Budget = { held: 0, limit: config.buffer };
  const outQueue = new OutputQueue(out, budget, config.stallMs, count);
  // One sink for both (a log file, `2>&1`): one queue, so that their lines keep their order too.
  const errQueue = sameFile(out.fd, err.fd) ? outQueue : new OutputQueue(err, budget, config.stallMs, count);
  const queues = new Set([outQueue, errQueue]);
  const lastWords = new LastWords();
  const streams = {
    stdout: new Stream('stdout', config.stdout, outQueue, null, config.format, who, count, lastWords),
    stderr: new Stream('stderr', config.stderr, errQueue, errQueue === outQueue ? null : outQueue, config.format, who, count, lastWords),
  };
  const byFd = (fd: unknown) => (fd === 1 ? streams.stdout : fd === 2 ? streams.stderr : null);

  for (const stream of Object.values(streams)) {
    const proc = stream.name === 'stdout' ? process.stdout : process.stderr;
    proc.write = function (chunk: Chunk, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean {
      const callback = typeof encoding === 'function' ? encoding : cb;
      stream.push(chunk, typeof encoding === 'string' ? encoding : undefined);
      if (callback) process.nextTick(callback, null);
      return true;
    } as typeof proc.write;
  }
  const writeSync = fs.writeSync;
  fs.writeSync = function (fd: number, data: Chunk, ...rest: unknown[]): number {
    const stream = byFd(fd);
    if (!stream) return (writeSync as (...args: unknown[]) => number)(fd, data, ...rest);
    // sonic-boom (pino) writes strings: the fast way, as process.stdout.write's.
    if (typeof data === 'string' && (rest[1] === undefined || rest[1] === 'utf8')) {
      stream.push(data);
      return Buffer.byteLength(data);
    }
    const bytes = sliced(data, rest);
    stream.push(bytes);
    return bytes.length;
  } as typeof fs.writeSync;
  const write = fs.write;
  fs.write = function (fd: number, data: Chunk, ...rest: unknown[]): void {
    const stream = byFd(fd);
    if (!stream) return (write as (...args: unknown[]) => void)(fd, data, ...rest);
    const callback = [...rest].reverse().find((a) => typeof a === 'function') as ((err: null, n: number, d: Chunk) => void) | undefined;
    const bytes = sliced(data, rest.filter((a) => typeof a !== 'function'));
    stream.push(bytes);
    if (callback) process.nextTick(callback, null, bytes.length, data);
  } as typeof fs.write;

  // `import { writeSync } from 'node:fs'` in the app binds the exports, not the object.
  syncBuiltinESMExports();
  const output: DirectOutput = {
    get dropped() {
      return dropped;
    },
    finish() {
      for (const queue of queues) queue.finish();
    },
    release() {
      streams.stdout.release();
      streams.stderr.release();
    },
    reopen() {
      if (!config.path) return;
      const fd = fs.openSync(config.path, 'a', 0o640);
      const old = config.stdout.fd;
      for (const queue of queues) queue.retarget({ fd, lockFd: -1 });
      config.stdout.fd = fd;
      config.stderr.fd = fd;
      if (old > 2) fs.closeSync(old);
    },
  };
  // A log file is opened by its name now: it may have been renamed since the fork.
  output.reopen();
  process.on('exit', () => {
    // Leaving before the manager said go ahead: its lines are written all the same.
    streams.stdout.release();
    streams.stderr.release();
    streams.stdout.flushPartial();
    streams.stderr.flushPartial();
    output.finish();
    const words = lastWords.line(config.marker);
    try {
      if (words) writeSync(2, words);
    } catch {
      // The manager is gone (EPIPE) or not reading: nobody to tell.
    }
  });

  return output;
}

/**
 * Under journald, each worker opens its own stream to it, as systemd opens one for the service
 * (the stdout stream protocol: a header, then lines): no writer shares it, so no line is ever
 * torn by another's, and no lock is needed. journald takes each line's `<N>` priority
 * (level_prefix), and knows the unit by the worker's control group and the worker by its pid.
 * Null when it cannot be opened: then the service's own stream is shared, under the lock.
 */
function openJournalStream(name: 'stdout' | 'stderr'): number | null {
  try {
    return journalStream(JOURNAL_STREAM_SOCKET, `${basename(process.execPath)}\n\n${name === 'stdout' ? 6 : 4}\n1\n0\n0\n0\n`);
  } catch {
    return null;
  }
}

const JOURNAL_STREAM_SOCKET = '/run/systemd/journal/stdout';

/** Whether two fds are one file, pipe or socket. */
function sameFile(a: number, b: number): boolean {
  if (a === b) return true;
  const [x, y] = [fs.fstatSync(a), fs.fstatSync(b)];
  return x.dev === y.dev && x.ino === y.ino;
}

/** What fs.write(Sync)(fd, data, offset, length) or (fd, string, position, encoding) asks to write. */
function sliced(data: Chunk, rest: unknown[]): Buffer {
  if (typeof data === 'string') return Buffer.from(data, typeof rest[1] === 'string' ? (rest[1] as BufferEncoding) : 'utf8');
  const options = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { offset?: number; length?: number }) : null;
  const offset = options ? (options.offset ?? 0) : typeof rest[0] === 'number' ? rest[0] : 0;
  const length = options ? (options.length ?? data.byteLength - offset) : typeof rest[1] === 'number' ? rest[1] : data.byteLength - offset;
  return Buffer.from(data.buffer, data.byteOffset + offset, length);
}
