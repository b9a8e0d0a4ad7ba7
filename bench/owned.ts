import { randomBytes } from 'node:crypto';
import { alive, commandLine, withEnvEntry } from './proc.js';

// Every process the rig starts carries BENCH_TAG=<run>.<trial> in its environment. Daemons leave
// the rig's process tree (PM2's God daemon, hypnotoad's manager, which even re-executes itself on
// a reload), but they keep their environment: after each trial, and whenever the rig ends, what
// still carries the tag is ended by its PID. Nothing is ever looked up or killed by name.

const RUN = `hnb-${process.pid}-${randomBytes(3).toString('hex')}`;
let trials = 0;

export function newTag(): string {
  return `${RUN}.${++trials}`;
}

export function taggedEnv(tag: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, BENCH_TAG: tag, ...extra };
}

function findTagged(tag: string | null): number[] {
  return tag ? withEnvEntry(`BENCH_TAG=${tag}`) : withEnvEntry(`BENCH_TAG=${RUN}.`, true);
}

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // Already gone.
    }
  }
}

/** Ends what still carries the tag (all of this run's tags if null); returns what was left ("PID command"). */
export async function endTagged(tag: string | null, graceMs = 3000): Promise<string[]> {
  const left = findTagged(tag);
  const described = left.map((pid) => `${pid} ${commandLine(pid)}`);
  signal(left, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (left.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  signal(left.filter(alive), 'SIGKILL');
  return described;
}

export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

// Shutdowns that must run before the sweep because they are the contender's own (`pm2 kill`).
const shutdowns = new Set<() => Promise<unknown>>();

/** Registers a shutdown to run if the rig is interrupted; returns its unregistration. */
export function onAbort(shutdown: () => Promise<unknown>): () => void {
  shutdowns.add(shutdown);
  return () => shutdowns.delete(shutdown);
}

export async function endEverything(): Promise<void> {
  for (const shutdown of [...shutdowns].reverse()) await shutdown().catch(() => undefined);
  shutdowns.clear();
  await endTagged(null);
}

/** Ctrl-C and kill end every started process first; a crash still SIGKILLs them on exit. */
export function guardProcesses(): void {
  let ending = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (ending) return;
      ending = true;
      process.stderr.write(`\nbench: ${sig}, ending every process it started...\n`);
      void endEverything().finally(() => process.exit(130));
    });
  }
  process.on('exit', () => signal(findTagged(null), 'SIGKILL'));
}

/** Signals one process and waits for it to go, SIGKILLing it after `graceMs`. */
export async function endPid(pid: number | undefined, sig: NodeJS.Signals, graceMs: number): Promise<void> {
  if (pid === undefined || !alive(pid)) return;
  signal([pid], sig);
  if (!(await waitGone(pid, graceMs))) signal([pid], 'SIGKILL');
}
