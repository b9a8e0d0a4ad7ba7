import type { GenerationStatus, Status } from '../protocol/status.js';

// What --admin's /status serves: the instance's shape and numbers, for anyone who can reach the
// address (on loopback: every local user). What only the control socket's users may read stays
// out: the app's output and error messages (a crash line may quote a password, an env file's
// error a key), and the paths of the code. Built field by field, so that a field added to the
// full status is not served here until someone decides it may be.

/** Fields kept as they are: numbers, states, versions. */
type Plain = 'pid' | 'hypnode' | 'node' | 'name' | 'state' | 'reloading' | 'startedAt' | 'generation' | 'codeLoadedAt' | 'workersWanted' | 'workersReady' | 'workers' | 'logLinesDropped';

export interface StatusSummary extends Pick<Status, Plain> {
  generations: Omit<GenerationStatus, 'app' | 'cwd'>[];
  lastReload: { ok: boolean; generation: number; attempted: number | null; startedAt: number; doneAt: number | null } | null;
  lastUpgrade: { ok: boolean; from: Runtime; to: Runtime | null; startedAt: number; doneAt: number | null } | null;
  lastCrash: { at: number } | null;
}

type Runtime = { pid: number; hypnode: string; node: string };

export function statusSummary(s: Status): StatusSummary {
  const r = s.lastReload;
  const u = s.lastUpgrade;
  const runtime = (m: Runtime): Runtime => ({ pid: m.pid, hypnode: m.hypnode, node: m.node });
  return {
    pid: s.pid,
    hypnode: s.hypnode,
    node: s.node,
    name: s.name,
    state: s.state,
    reloading: s.reloading,
    startedAt: s.startedAt,
    generation: s.generation,
    codeLoadedAt: s.codeLoadedAt,
    workersWanted: s.workersWanted,
    workersReady: s.workersReady,
    workers: s.workers.map((w) => ({
      pid: w.pid,
      generation: w.generation,
      slot: w.slot,
      phase: w.phase,
      state: w.state,
      startedAt: w.startedAt,
      uptimeMs: w.uptimeMs,
      readyAt: w.readyAt,
      requests: w.requests,
      connections: w.connections,
      rss: w.rss,
      heapUsed: w.heapUsed,
      loopDelay: w.loopDelay,
      acceptsLimit: w.acceptsLimit,
      linesDropped: w.linesDropped,
    })),
    generations: s.generations.map((g) => ({ id: g.id, state: g.state, createdAt: g.createdAt, workersWanted: g.workersWanted, workersReady: g.workersReady })),
    lastReload: r && {
      ok: r.ok,
      generation: r.generation,
      attempted: r.ok ? r.generation : r.attempted,
      startedAt: r.startedAt,
      doneAt: r.ok ? r.doneAt : null,
    },
    lastUpgrade: u && {
      ok: u.ok,
      from: runtime(u.from),
      to: u.ok ? runtime(u.to) : null,
      startedAt: u.startedAt,
      doneAt: u.ok ? u.doneAt : null,
    },
    lastCrash: s.lastCrash && { at: s.lastCrash.at },
    logLinesDropped: s.logLinesDropped,
  };
}
