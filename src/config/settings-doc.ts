import { SETTINGS } from './settings.js';

// The README's settings table, made from the settings table itself: the README holds it between
// two markers, `npm run docs` rewrites it there, and a test fails when the two drift apart.

export const BEGIN = '<!-- settings table: made by `npm run docs` from src/config/settings.ts -->';
export const END = '<!-- end of settings table -->';

export function settingsMarkdown(): string {
  const rows = SETTINGS.map((s) => {
    const effect = s.effect === 'reload' ? 'reload' : 'restart';
    const formerly = s.formerly ? `; formerly \`--${s.formerly.flag}\`, \`${s.formerly.env}\`, \`${s.formerly.key}\` (still accepted)` : '';
    return `| \`--${s.flag}\` | \`${s.env}\` | \`${s.key}\` | ${s.shown} | ${effect} | ${s.doc}${formerly} |`;
  });
  return [
    '| flag | environment | config key | default | a change takes effect at | meaning |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** `readme` with its settings table replaced by the current one. */
export function withSettingsTable(readme: string): string {
  const from = readme.indexOf(BEGIN);
  const to = readme.indexOf(END);
  if (from < 0 || to < from) throw new Error(`the README has no settings table between "${BEGIN}" and "${END}"`);
  return `${readme.slice(0, from + BEGIN.length)}\n${settingsMarkdown()}\n${readme.slice(to)}`;
}
