import { fstatSync } from 'node:fs';

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
  /** A line a worker wrote; `stream` tells stdout from stderr. */
  worker(generation: number, pid: number, stream: 'stdout' | 'stderr', line: string): void;
  /** The format follows the settings, which a reload may change. */
  setFormat(format: LogFormat): void;
}

type Stream = 'stdout' | 'stderr';

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

export function consoleLogger(): Logger {
  const journal: Record<Stream, boolean> = { stdout: isJournalStream(1), stderr: isJournalStream(2) };
  let format: LogFormat = 'text';
  const write = (line: Line) => {
    const prefix = journal[line.stream] ? `<${line.priority}>` : '';
    const text = format === 'json' ? `${prefix}${json(line)}\n` : line.msg.split('\n').map((l) => `${prefix}${tag(line)}${l}\n`).join('');
    (line.stream === 'stdout' ? process.stdout : process.stderr).write(text);
  };
  const own = (stream: Stream, priority: number) => (msg: string) => write({ stream, priority, source: 'manager', pid: process.pid, generation: null, msg });
  return {
    info: own('stdout', INFO),
    warn: own('stderr', WARNING),
    error: own('stderr', ERROR),
    worker(generation, pid, stream, text) {
      // A line may carry its own sd-daemon priority, as journald-aware apps write them.
      const given = /^<([0-7])>/.exec(text);
      const priority = given ? Number(given[1]) : stream === 'stdout' ? INFO : WARNING;
      write({ stream, priority, source: 'worker', pid, generation, msg: given ? text.slice(given[0].length) : text });
    },
    setFormat(f) {
      format = f;
    },
  };
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
