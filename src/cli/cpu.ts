import { readFileSync } from 'node:fs';

// A process's CPU use, as top computes it: the change of its user + system time in
// /proc/PID/stat between two looks, over the wall time between them.

/** Linux reports process times in USER_HZ, which is 100 on every architecture Node runs on. */
const TICKS_PER_SECOND = 100;

/** The process's user + system CPU time so far, in seconds; null when it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (in parentheses, which may hold anything): utime, stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** Remembers each process's last look: percent() is its CPU use since then (100 = one core). */
export class CpuMeter {
  private last = new Map<number, { cpu: number; at: number }>();

  percent(pid: number, now = Date.now()): number | null {
    const cpu = cpuSeconds(pid);
    const before = this.last.get(pid);
    if (cpu === null) return null;
    this.last.set(pid, { cpu, at: now });
    if (!before || now <= before.at) return null;
    return (100 * (cpu - before.cpu)) / ((now - before.at) / 1000);
  }

  /** Forgets processes not among `pids` (exited workers). */
  keep(pids: Set<number>): void {
    for (const pid of this.last.keys()) if (!pids.has(pid)) this.last.delete(pid);
  }
}
