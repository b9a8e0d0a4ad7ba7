import { readFileSync } from 'node:fs';
import type { OutOfMemory } from '../protocol/worker-exit.js';

// Whether a worker died for want of memory, in the words of what ended it. The kernel's OOM killer
// sends a plain SIGKILL: what says it was the OOM killer is the count of OOM kills of the memory
// control group the workers run in (cgroup v2 memory.events, v1 memory.oom_control `oom_kill`),
// read (by the worker's own cgroup) when it started and when it died. V8 running out of heap aborts the process after
// its fatal line ("... JavaScript heap out of memory"), which comes down the worker's stderr pipe.

const V8_HEAP = /JavaScript heap out of memory|Reached heap limit/;

/** Where the OOM kills of `pid`'s memory cgroup are counted, and how many so far; null when no file tells. */
export interface OomCount {
  file: string;
  kills: number;
}

export function oomCount(pid: number): OomCount | null {
  const file = findCounter(pid);
  const kills = file === null ? null : readKills(file);
  return file === null || kills === null ? null : { file, kills };
}

/** A worker that ended as `signal`, its cgroup's OOM kills counted at its start, `output` its last words. */
export function outOfMemory(signal: NodeJS.Signals | null, before: OomCount | null, output: string, rssBytes: number): OutOfMemory | null {
  if (signal === 'SIGKILL' && before && (readKills(before.file) ?? 0) > before.kills) return { by: 'kernel', rssBytes };
  if (V8_HEAP.test(output.slice(-4096))) return { by: 'v8-heap', rssBytes };
  return null;
}

/** "ran out of memory (killed by the kernel's OOM killer, SIGKILL) holding 212 MiB" */
export function describeOutOfMemory(oom: OutOfMemory, signal: NodeJS.Signals | null, code: number | null): string {
  const held = oom.rssBytes > 0 ? ` holding ${Math.round(oom.rssBytes / 1048576)} MiB (its last known RSS)` : '';
  if (oom.by === 'kernel') return `ran out of memory: killed by the kernel's OOM killer (SIGKILL)${held}`;
  return `ran out of memory (V8 heap, see --max-old-space-size): ${signal ? `killed by ${signal}` : `exited with code ${code}`}${held}`;
}

function readKills(file: string): number | null {
  try {
    const found = /^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'));
    return found ? Number(found[1]) : null;
  } catch {
    return null;
  }
}

function findCounter(pid: number): string | null {
  let lines: string[];
  try {
    lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  } catch {
    return null;
  }
  const candidates: string[] = [];
  for (const line of lines) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    if (controllers === '') candidates.push(`/sys/fs/cgroup${path}/memory.events`, `/sys/fs/cgroup/unified${path}/memory.events`);
    else if (controllers!.split(',').includes('memory')) candidates.push(`/sys/fs/cgroup/memory${path}/memory.oom_control`);
  }
  return candidates.find((file) => readKills(file) !== null) ?? null;
}
