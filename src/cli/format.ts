import type { ReloadResult, Status } from '../manager/manager.js';

// What a person reads: `hypnode status` as a table, a reload's outcome as a few lines.

export function formatStatus(s: Status): string {
  const now = Date.now();
  const lines = [
    `app         ${s.app}${s.name ? ` (${s.name})` : ''}`,
    `manager     pid ${s.pid}, ${s.state}${s.reloading ? ', reloading' : ''}, up ${duration(now - s.startedAt)}`,
    `generation  ${s.generation ?? '-'}${s.codeLoadedAt ? `, code loaded ${new Date(s.codeLoadedAt).toISOString()} (${duration(now - s.codeLoadedAt)} ago)` : ''}`,
    `workers     ${s.workersReady}/${s.workersWanted} ready`,
  ];
  if (s.lastReload) {
    const r = s.lastReload;
    lines.push(
      `last reload ${new Date(r.startedAt).toISOString()}: ${r.ok ? `ok, generation ${r.generation} in ${duration(r.drainedAt - r.startedAt)}` : `FAILED: ${r.error}`}`,
    );
  }
  if (s.lastCrash) lines.push(`last crash  ${new Date(s.lastCrash.at).toISOString()}: ${s.lastCrash.message}`);
  lines.push('', table(['PID', 'GEN', 'STATE', 'UPTIME', 'REQUESTS', 'CONNS', 'RSS'], s.workers.map((w) => [
    String(w.pid), String(w.generation), w.state, duration(w.uptimeMs), String(w.requests), String(w.connections), w.rss ? `${(w.rss / 1048576).toFixed(1)} MiB` : '-',
  ])));
  return lines.join('\n');
}

export function formatReload(r: Extract<ReloadResult, { ok: true }>): string {
  return [
    `reloaded: generation ${r.generation}`,
    `  new workers ready     after ${secs(r.readyAt - r.startedAt)}`,
    `  new code serves all   after ${secs(r.servingAt - r.startedAt)}`,
    `  old workers drained   after ${secs(r.drainedAt - r.startedAt)}`,
  ].join('\n');
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
