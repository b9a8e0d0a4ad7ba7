import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// Which test files `npm test` runs and which only `npm run test:full` does. `npm test` is what a
// change is checked with (and what CI runs first): each promise the README makes, proven once by
// a real process, in about 8 minutes on 2 cores, two files at a time. The full run adds what costs
// minutes for little more certainty on an ordinary change: the same promises in other settings
// (other layouts, other apps, faults by the dozen), the installs and cross-builds, the soak, the
// frameworks, the fleets, the benchmark's smoke test, and the Node-line matrix.

/** The end-to-end files of `npm test`, with the unit tests: what each proves is in the file's head. */
const QUICK = [
  // reloads: honest, under load, readiness, batches, HTTP/2 and gRPC, long-lived connections, judged by their traffic
  'reload', 'ready', 'readiness', 'batched-reload', 'reload-http2', 'websocket', 'traffic-verdict',
  // supervision and faults: a broken app never takes the serving generation down
  'supervision', 'faults', 'faults-drain', 'frozen-manager', 'start-gives-up', 'last-words', 'leftovers', 'stray-workers',
  // systemd: a real user manager, notify, reload, a start that fails
  'systemd', 'systemd-notify', 'systemd-start-fails', 'unit-daemon',
  // the manager's own upgrade
  'upgrade',
  // logs: nothing lost to a slow reader, nothing torn
  'logs', 'log-integrity', 'log-backpressure', 'log-pipe-exit',
  // the CLI, config, status, admin, and other users
  'cli-input', 'cli-ux', 'config', 'status', 'admin', 'security', 'local-users',
];

/** Test files (compiled) under `dir`, recursively, sorted. */
function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.js'))
    .sort()
    .map((f) => join(dir, f));
}

/** `npm test`'s files: the unit tests and the quick end-to-end files. */
export function quickTier(testDir: string): string[] {
  const files = QUICK.map((name) => join(testDir, `${name}.test.js`));
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) throw new Error(`tools/test-tiers.ts names test files that do not exist: ${missing.join(', ')}`);
  return [...testFiles(join(testDir, 'unit')), ...files];
}

/** What only `npm run test:full` runs: every other test file. */
export function restTier(testDir: string): string[] {
  const quick = new Set(quickTier(testDir));
  return testFiles(testDir).filter((f) => !quick.has(f));
}
