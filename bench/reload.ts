import { writeFileSync } from 'node:fs';
import { request } from './http.js';
import { countFailureKinds, startLoad, type FailureKind, type Sample } from '../tools/load.js';
import type { Instance } from './contenders/types.js';
import type { Plan } from './options.js';
import { sleep } from './progress.js';

// A reload under load, and a reload to code that throws at start. Each contender reloads with its
// own command; the version file is rewritten just before, so every answer says which code served it.

const LOAD = { keepAliveClients: 8, newConnectionClients: 8, slowEvery: 20, requestTimeoutMs: 5000 };
/** Only a bound: the clients reach a few thousand requests per second on two cores. */
const MAX_RATE = 20_000;
/** New-code answers needed after the last other one before the new code counts as serving everything. */
const NEW_ANSWERS_NEEDED = 100;
/** ... and that long without any other, so a slow request still on old code would have shown. */
const QUIET_MS = 1000;

export interface CommandOutcome {
  code: number | null;
  ms: number;
  timedOut: boolean;
}

export interface ReloadOutcome {
  command: CommandOutcome;
  requests: number;
  failed: number;
  failures: Record<FailureKind, number>;
  /** Answers per version over the whole load. */
  versions: Record<string, number>;
  /** From running the command until the new code gave its first answer (its workers were ready and took traffic); null: never. */
  firstNewMs: number | null;
  /** From running the command until every request sent got the new code; null: not within the run. */
  newEverywhereMs: number | null;
  /**
   * From running the command until the old code gave its last answer (a slow request in flight at
   * the switch): from then on the new code answers everything. Null when not within the run.
   */
  oldDoneMs: number | null;
  /** The command returned while requests still met old code, or failed. */
  returnedEarly: boolean;
}

export async function reloadUnderLoad(instance: Instance, versionFile: string, port: number, plan: Plan, version: string): Promise<ReloadOutcome> {
  const reload = reloadOf(instance);
  const maxMs = plan.warmMs + plan.commandCapMs + plan.settleCapMs + 2000;
  const load = startLoad({ port, ...LOAD, durationMs: maxMs, maxRequests: Math.ceil((MAX_RATE * maxMs) / 1000) });
  await sleep(plan.warmMs);
  writeFileSync(versionFile, `${version}\n`);
  // Date.now(): the clock the load generator stamps its samples with.
  const reloadStart = Date.now();
  const r = await reload();
  const returned = Date.now();
  while (Date.now() - returned < plan.settleCapMs && newEverywhereAt(load.samples, version) === null) await sleep(100);
  const { samples } = await load.stop();
  const at = newEverywhereAt(samples, version);
  const newEverywhereMs = at === null ? null : Math.max(0, at - reloadStart);
  const oldDoneMs = at === null ? null : Math.max(0, lastOtherAnswer(samples, version) - reloadStart);
  const firstNew = firstAnswer(samples, version);
  const failures = countFailureKinds(samples);
  const versions: Record<string, number> = {};
  for (const s of samples) if (s.version) versions[s.version] = (versions[s.version] ?? 0) + 1;
  return {
    command: { code: r.code, ms: r.ms, timedOut: r.timedOut },
    requests: samples.length,
    failed: Object.values(failures).reduce((a, b) => a + b, 0),
    failures,
    versions,
    firstNewMs: firstNew === null ? null : Math.max(0, firstNew - reloadStart),
    newEverywhereMs,
    oldDoneMs,
    returnedEarly: newEverywhereMs === null || r.ms < newEverywhereMs,
  };
}

/**
 * When the last request not answered by `version` was sent (old code, or a failure), provided
 * enough requests after it all were; null while that is not so. Requests sent before it that old
 * code answered (a slow one in flight during the switch) are fine.
 */
function newEverywhereAt(samples: readonly Sample[], version: string): number | null {
  let lastOther = -Infinity;
  let lastSent = -Infinity;
  for (const s of samples) {
    if (s.version !== version) lastOther = Math.max(lastOther, s.start);
    lastSent = Math.max(lastSent, s.start);
  }
  const after = samples.filter((s) => s.start > lastOther).length;
  return after >= NEW_ANSWERS_NEEDED && lastSent - lastOther >= QUIET_MS ? lastOther : null;
}

/** When the last answer (or failure) that was not `version`'s came back. */
function lastOtherAnswer(samples: readonly Sample[], version: string): number {
  let last = -Infinity;
  for (const s of samples) if (s.version !== version) last = Math.max(last, s.end);
  return last;
}

/** When the first answer by `version` came back; null when none did. */
function firstAnswer(samples: readonly Sample[], version: string): number | null {
  let first = Infinity;
  for (const s of samples) if (s.version === version) first = Math.min(first, s.end);
  return Number.isFinite(first) ? first : null;
}

export interface BrokenOutcome {
  command: CommandOutcome;
  /** What the command printed, shortened: does it say what went wrong? */
  output: string;
  probes: number;
  answered: number;
  /** Answers per version after the failed reload: is it still the old code? */
  versions: Record<string, number>;
}

const PROBE_DELAY_MS = 2000;
const PROBES = 20;

/** Deploys code that throws at start, then asks whether anything still answers. */
export async function brokenReload(instance: Instance, versionFile: string, port: number): Promise<BrokenOutcome> {
  writeFileSync(versionFile, 'throw\n');
  const r = await reloadOf(instance)();
  // Supervisors retry crashing workers; what counts is what serves once that has played out.
  await sleep(PROBE_DELAY_MS);
  const versions: Record<string, number> = {};
  let answered = 0;
  for (let i = 0; i < PROBES; i++) {
    const a = await request(port, { timeoutMs: 1000 }).catch(() => null);
    if (a?.status === 200) {
      answered++;
      const v = a.version ?? '?';
      versions[v] = (versions[v] ?? 0) + 1;
    }
    await sleep(50);
  }
  return { command: { code: r.code, ms: r.ms, timedOut: r.timedOut }, output: r.output.slice(-600), probes: PROBES, answered, versions };
}

function reloadOf(instance: Instance): NonNullable<Instance['reload']> {
  if (!instance.reload) throw new Error('this contender has no reload');
  return instance.reload.bind(instance);
}
