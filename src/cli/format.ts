import { duration, secs } from '../durations.js';
import type { Results } from '../protocol/control.js';
import { killedWords, type ReloadResult, type Status, type UpgradeResult, type WorkerStatus } from '../protocol/status.js';

// What a person reads: `hypnode status` as a table, a reload's progress and outcome; and what
// --json prints instead, for a program.

/** The --json form of a result or an error: all of it, on one document. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

export function formatStatus(s: Status): string {
  const now = Date.now();
  const rss = s.workers.reduce((sum, w) => sum + w.rss, 0);
  const lines = [
    `app          ${s.app}${s.name ? ` (${s.name})` : ''}`,
    `manager      pid ${s.pid}, ${s.state}${s.reloading ? ', reloading' : ''}, up ${duration(now - s.startedAt)}; hypnode ${s.hypnode}, Node ${s.node} (${s.nodePath})`,
    `generation   ${s.generation ?? '-'}${s.codeLoadedAt ? `, code loaded ${time(s.codeLoadedAt)} (${duration(now - s.codeLoadedAt)} ago)` : ''}`,
    `workers      ${s.workersReady}/${s.workersWanted} ready${rss ? `, ${mib(rss)} resident in all` : ''}`,
  ];
  // Where each generation's code comes from, when that is not the path the app was started by.
  for (const g of [...s.generations].sort((a, b) => b.id - a.id)) {
    if (g.app !== s.app) lines.push(`release      generation ${g.id}: ${g.app}`);
  }
  // What `hypnode rollback` goes back to: the releases before the current one (none from a manager older than the list).
  const releases = s.releases ?? [];
  if (releases.length > 1) {
    for (const [i, r] of releases.entries()) {
      lines.push(`${i === 0 ? 'releases     now' : `             -${i} `} ${r.app} (generation ${r.generation}, since ${time(r.since)}${r.rolledBackTo ? ', rolled back to' : ''})`);
    }
  }
  if (s.lastReload) {
    const r = s.lastReload;
    lines.push(`last reload  ${time(r.startedAt)}: ${r.ok ? `ok, generation ${r.generation} in ${secs(r.doneAt - r.startedAt)}${r.killedDraining > 0 ? `; ${killedWords(r.killedDraining)}` : ''}` : `FAILED: ${r.error}`}`);
    if (r.ok && r.traffic) lines.push(`traffic      ${r.traffic}`);
  }
  if (s.lastUpgrade) {
    const u = s.lastUpgrade;
    lines.push(`last upgrade ${time(u.startedAt)}: ${u.ok ? `ok, from manager ${u.from.pid} (hypnode ${u.from.hypnode}, Node ${u.from.node}) in ${secs(u.doneAt - u.startedAt)}` : `FAILED: ${u.error}`}`);
  }
  if (s.lastCrash) lines.push(`last crash   ${time(s.lastCrash.at)}: ${s.lastCrash.message}`);
  const newestFirst = [...s.workers].sort((a, b) => b.generation - a.generation || a.slot - b.slot || a.startedAt - b.startedAt);
  lines.push('', table(WORKER_COLUMNS, newestFirst));
  return lines.join('\n');
}

export function formatReload(r: Extract<ReloadResult, { ok: true }>): string {
  return [
    `reloaded: generation ${r.generation}`,
    `  new workers ready     after ${secs(r.readyAt - r.startedAt)}`,
    `  new code serves all   after ${secs(r.servingAt - r.startedAt)}`,
    r.killedDraining > 0
      ? `  old workers ended     after ${secs(r.drainedAt - r.startedAt)}: ${killedWords(r.killedDraining)}`
      : `  old workers drained   after ${secs(r.drainedAt - r.startedAt)}`,
    `  done (probation over) after ${secs(r.doneAt - r.startedAt)}`,
  ].join('\n');
}

export function formatRollback(r: Results['rollback']): string {
  const later = r.appNow === null ? `${r.app} points to nothing now: a later reload fails until a release is there` : r.appNow === r.release.app ? `${r.app} points to this release: a later reload deploys it again` : `${r.app} still points to ${r.appNow}: a later reload deploys that again; point it to this release (or another) first`;
  return [`rolled back: generation ${r.generation} runs ${r.release.app} (in ${r.release.cwd}), with the settings and env files it was deployed with`, `  ${later}`, formatReload(r)].join('\n');
}

export function formatUpgrade(u: Extract<UpgradeResult, { ok: true }>): string {
  return [
    `upgraded: manager ${u.from.pid} → ${u.to.pid}; hypnode ${u.from.hypnode} → ${u.to.hypnode}, Node ${u.from.node} → ${u.to.node} (${u.to.nodePath})`,
    `  new workers ready     after ${secs(u.readyAt - u.startedAt)}`,
    `  new manager serves    after ${secs(u.servingAt - u.startedAt)}`,
    `  old manager exited    after ${secs(Date.now() - u.startedAt)}`,
  ].join('\n');
}

const COUNT = /^(new manager: )?generation \d+: \d+\/\d+ ready$/;

/** Shows progress lines as they come; done() ends the last one. */
export interface Progress {
  (text: string): void;
  done(): void;
}

/**
 * On a terminal each line gets the time since the command began, the last line's time ticks
 * while it waits (a boot, a drain, the probation), and the "k/N ready" count updates in place;
 * elsewhere (a log, a script) every line is kept as it is, one per line; into the journal (as
 * ExecReload=) nothing: the manager has said each line there already.
 */
export function progressPrinter(out: NodeJS.WriteStream, journal = false): Progress {
  if (!out.isTTY) return Object.assign((text: string) => void (journal || out.write(`hypnode: ${text}\n`)), { done() {} });
  const startedAt = Date.now();
  let last: string | null = null;
  const render = () => `\r\x1b[2K${`${((Date.now() - startedAt) / 1000).toFixed(1)}s`.padStart(6)}  ${last}`;
  const ticker = setInterval(() => last !== null && out.write(render()), 100);
  ticker.unref();
  const say = (text: string) => {
    // A new count replaces the last one; anything else goes on a line of its own.
    const replace = last !== null && COUNT.test(last) && COUNT.test(text);
    if (last !== null && !replace) out.write('\n');
    last = text;
    out.write(render());
  };
  return Object.assign(say, {
    done() {
      clearInterval(ticker);
      if (last !== null) out.write('\n');
      last = null;
    },
  });
}

export interface Column<T> {
  head: string;
  value(row: T): string;
  /** Numbers line up on the right. */
  right?: boolean;
}

const WORKER_COLUMNS: Column<WorkerStatus>[] = [
  { head: 'GEN', value: (w) => String(w.generation), right: true },
  { head: 'SLOT', value: (w) => String(w.slot), right: true },
  { head: 'PID', value: (w) => String(w.pid), right: true },
  { head: 'STATE', value: (w) => w.state },
  { head: 'UPTIME', value: (w) => duration(w.uptimeMs), right: true },
  { head: 'REQUESTS', value: (w) => String(w.requests), right: true },
  { head: 'CONNS', value: (w) => String(w.connections), right: true },
  { head: 'RSS', value: (w) => (w.rss ? mib(w.rss) : '-'), right: true },
];

export function table<T>(columns: Column<T>[], rows: T[]): string {
  const cells = [columns.map((c) => c.head), ...rows.map((w) => columns.map((c) => c.value(w)))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((cell, i) => (columns[i]!.right ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function time(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
