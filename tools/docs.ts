import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withSettingsTable } from '../src/config/settings-doc.js';

// `npm run docs`: writes the settings table into README.md from src/config/settings.ts.

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const before = readFileSync(README, 'utf8');
const after = withSettingsTable(before);
if (after === before) {
  console.log('README.md: the settings table is up to date');
} else {
  writeFileSync(README, after);
  console.log('README.md: settings table rewritten');
}
