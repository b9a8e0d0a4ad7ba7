import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

// Figures about processes read straight from /proc, so that every contender is measured the same
// way whatever it reports about itself (PM2's `monit`, hypnotoad's nothing, hypnode's status).

interface Stat {
  ppid: number;
  state: string;
  /** utime + stime, in clock ticks. */
  ticks: number;
}

function stat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** A zombie has exited; only its parent has not reaped it yet. */
export function alive(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z';
}

/** The process and all its living descendants. */
export function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of pids()) {
    const s = stat(pid);
    if (!s || s.state === 'Z') continue;
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  if (!alive(root)) return [];
  const out: number[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function treeRssBytes(root: number): number {
  return tree(root).reduce((sum, pid) => sum + rssBytes(pid), 0);
}

/** Processes whose environment holds exactly `entry` (KEY=VALUE), or an entry starting with it if `prefix`. */
export function withEnvEntry(entry: string, prefix = false): number[] {
  return pids().filter((pid) => {
    if (pid === process.pid) return false;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      return env.some((e) => (prefix ? e.startsWith(entry) : e === entry));
    } catch {
      return false;
    }
  });
}

let clockTicks: number | null = null;

export function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return clockTicks;
}

export interface Usage {
  processes: number;
  managerRssMb: number;
  totalRssMb: number;
  /** Percent of one core over the window. */
  managerCpuPct: number;
  totalCpuPct: number;
}

/** Memory and CPU of a manager and its workers while nothing asks them anything. */
export async function idleUsage(manager: number, windowMs: number): Promise<Usage> {
  const members = tree(manager);
  const before = members.map((pid) => stat(pid)?.ticks ?? 0);
  await new Promise((r) => setTimeout(r, windowMs));
  const used = members.map((pid, i) => Math.max(0, (stat(pid)?.ticks ?? before[i]!) - before[i]!));
  const pct = (ticks: number) => (ticks / ticksPerSecond() / (windowMs / 1000)) * 100;
  return {
    processes: members.length,
    managerRssMb: mb(rssBytes(manager)),
    totalRssMb: mb(members.reduce((sum, pid) => sum + rssBytes(pid), 0)),
    managerCpuPct: pct(used[0] ?? 0),
    totalCpuPct: pct(used.reduce((a, b) => a + b, 0)),
  };
}

/**
 * The CPU time (user and system, in seconds) that a process and its descendants used while `work`
 * ran: a process that ended meanwhile counts up to its last reading before, one that came counts whole.
 */
export async function cpuDuring<T>(root: number | null, work: () => Promise<T>): Promise<{ value: T; seconds: number | null }> {
  const ticks = () => new Map((root === null ? [] : tree(root)).map((pid) => [pid, cpuTicks(pid)]));
  const before = ticks();
  const value = await work();
  const after = ticks();
  if (root === null || before.size === 0) return { value, seconds: null };
  let used = 0;
  for (const [pid, now] of after) used += Math.max(0, now - (before.get(pid) ?? 0));
  return { value, seconds: used / ticksPerSecond() };
}

/** The CPU time a process has used so far (user and system), in clock ticks. */
export function cpuTicks(pid: number): number {
  return stat(pid)?.ticks ?? 0;
}

export function mb(bytes: number): number {
  return bytes / (1024 * 1024);
}

export function readPidFile(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}
