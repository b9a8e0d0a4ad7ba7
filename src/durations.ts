// Times as people read them in hypnode's messages, its status and its progress lines.

/** "0.40 s" */
export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** "45s", "3m05s", "2h10m", "4d03h" */
export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}
