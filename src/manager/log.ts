import { randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import type { Settings } from '../config/settings.js';
import type { OutputConfig } from '../protocol/worker.js';
import { Sink } from './log-sink.js';

// The manager's own log lines and the workers' output, each line tagged with who wrote it:
// as text (`[hypnode] ...`, `[g2 1234] ...` for generation 2's worker 1234) or, for log
// shippers, one JSON object a line. Under journald each line starts with its syslog priority
// (sd-daemon(3): `<3>` error, `<4>` warning, `<6>` info), so that `journalctl -p warning` finds
// the manager's warnings and whatever the workers wrote to stderr.

export type LogFormat = 'text' | 'json';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A warning, and whether the log took it (see log-sink.ts: a sink holding too much drops it). */
  report(msg: string): boolean;
  /** `listener` is called when a sink that dropped lines takes lines again. */
  onRecovered(listener: () => void): void;
  /** Lines a worker wrote (each ending in a newline); `stream` tells stdout from stderr. */
  worker(generation: number, pid: number, stream: 'stdout' | 'stderr', lines: Buffer[]): void;
  /** The format follows the settings, which a reload may change. */
  setFormat(format: LogFormat): void;
  /** Opens --log-file again by its name; returns the files reopened. */
  reopen(): string[];
  /** Lines dropped because the output could not take them (see log-sink.ts). */
  readonly dropped: number;
  /** Writes out everything pending: before the manager exits. */
  close(): void;
  /** Calls `done` once what was given so far is written (a worker is about to write itself). */
  whenWritten(done: () => void): void;
  /**
   * How a worker may write its output itself, in the current format: the fds to hand it (as its
   * fds 4, 5, ...) and what it needs to know of them; null when everything goes through the
   * manager (a terminal, or no native addon).
   */
  direct(settings: DirectSettings): { fds: number[]; config: OutputConfig } | null;
}

type Stream = 'stdout' | 'stderr';

/** What a worker writing its own output follows: the format, and how much it may hold, how long. */
export type DirectSettings = Pick<Settings, 'logFormat' | 'logBuffer' | 'logStallTimeout'>;

interface Line {
  stream: Stream;
  priority: number;
  source: 'manager' | 'worker';
  pid: number;
  generation: number | null;
  msg: string;
}

const ERROR = 3;
const WARNING = 4;
const INFO = 6;
const LEVELS = ['emerg', 'alert', 'crit', 'error', 'warning', 'notice', 'info', 'debug'];

/** To stdout and stderr, or both to `logFile`. */
export function consoleLogger(logFile: string | null = null): Logger {
  const file = logFile ? Sink.file(logFile) : null;
  const sinks: Record<Stream, Sink> = file ? { stdout: file, stderr: file } : { stdout: new Sink(1), stderr: new Sink(2) };
  const journal: Record<Stream, boolean> = file ? { stdout: false, stderr: false } : { stdout: isJournalStream(1), stderr: isJournalStream(2) };
  let format: LogFormat = 'text';
  const write = (line: Line) => {
    const prefix = journal[line.stream] ? `<${line.priority}>` : '';
    const text = format === 'json' ? `${prefix}${json(line)}\n` : line.msg.split('\n').map((l) => `${prefix}${tag(line)}${l}\n`).join('');
    return sinks[line.stream].write(text);
  };
  const own = (stream: Stream, priority: number) => (msg: string) => write({ stream, priority, source: 'manager', pid: process.pid, generation: null, msg });
  const recovered = new Set<() => void>();
  const logger: Logger = {
    info: own('stdout', INFO),
    warn: own('stderr', WARNING),
    error: own('stderr', ERROR),
    report: own('stderr', WARNING),
    onRecovered(listener) {
      recovered.add(listener);
    },
    worker(generation, pid, stream, lines) {
      if (format === 'json') {
        for (const line of lines) {
          const priority = givenPriority(line);
          const text = line.subarray(priority === null ? 0 : 3, line.length - 1).toString('utf8');
          write({ stream, priority: priority ?? defaultPriority(stream), source: 'worker', pid, generation, msg: text });
        }
        return;
      }
      // At request rate: the lines stay bytes, each behind its tag, the batch one write.
      const tag = Buffer.from(`[g${generation} ${pid}] `);
      const parts: Buffer[] = [];
      for (const line of lines) {
        const priority = givenPriority(line);
        if (journal[stream]) parts.push(PRIORITY_PREFIX[priority ?? defaultPriority(stream)]!);
        parts.push(tag, priority === null ? line : line.subarray(3));
      }
      sinks[stream].writeParts(parts);
    },
    setFormat(f) {
      format = f;
    },
    reopen() {
      if (!file) return [];
      file.reopen();
      return [file.path!];
    },
    get dropped() {
      return new Set(Object.values(sinks)).size === 1 ? sinks.stdout.dropped : sinks.stdout.dropped + sinks.stderr.dropped;
    },
    close() {
      for (const sink of new Set(Object.values(sinks))) sink.close();
    },
    whenWritten(done) {
      let left = new Set(Object.values(sinks)).size;
      for (const sink of new Set(Object.values(sinks))) sink.whenWritten(() => --left === 0 && done());
    },
    direct(settings) {
      const out = sinks.stdout.shared;
      const err = sinks.stderr.shared;
      if (!out || !err) return null;
      // The worker's fds 4 and 5 are the two sinks (one, for a log file), 6 their lock.
      const locks = out.lockFd >= 0 || err.lockFd >= 0 ? [Math.max(out.lockFd, err.lockFd)] : [];
      const lockAt = locks.length ? 6 : -1;
      return {
        fds: [out.fd, err.fd, ...locks],
        config: {
          stdout: { fd: 4, lockFd: out.lockFd >= 0 ? lockAt : -1, journal: journal.stdout },
          stderr: { fd: 5, lockFd: err.lockFd >= 0 ? lockAt : -1, journal: journal.stderr },
          format: settings.logFormat,
          path: file?.path ?? null,
          buffer: settings.logBuffer,
          stallMs: settings.logStallTimeout * 1000,
          marker: `\u0000hypnode:write-directly:${randomBytes(8).toString('hex')}`,
        },
      };
    },
  };
  for (const sink of new Set(Object.values(sinks))) sink.onRecovered = () => recovered.forEach((listener) => listener());
  return logger;
}

const PRIORITY_PREFIX = LEVELS.map((_, n) => Buffer.from(`<${n}>`));

function defaultPriority(stream: Stream): number {
  return stream === 'stdout' ? INFO : WARNING;
}

/** A line may carry its own sd-daemon priority (`<3>`), as journald-aware apps write them. */
function givenPriority(line: Buffer): number | null {
  return line.length >= 3 && line[0] === 0x3c && line[1]! >= 0x30 && line[1]! <= 0x37 && line[2] === 0x3e ? line[1]! - 0x30 : null;
}

/** The JSON format's fields, documented in the README: add to them, never rename or remove. */
function json(line: Line): string {
  const { source, pid, generation, stream, msg } = line;
  return JSON.stringify({ time: new Date().toISOString(), level: LEVELS[line.priority], source, pid, generation, stream, msg });
}

function tag(line: Line): string {
  if (line.source === 'worker') return `[g${line.generation} ${line.pid}] `;
  return line.priority <= ERROR ? '[hypnode] error: ' : line.priority === WARNING ? '[hypnode] warning: ' : '[hypnode] ';
}

/** JOURNAL_STREAM names the journal's stream as "device:inode"; it counts only if `fd` is that stream (sd-daemon(3)). */
function isJournalStream(fd: number): boolean {
  const m = /^(\d+):(\d+)$/.exec(process.env.JOURNAL_STREAM ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}
