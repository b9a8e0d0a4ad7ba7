import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { BOOT_ERROR, bootCrashApp } from './support/boot-crash.js';
import { alive, freePort, runCli, startHypnode, tempDir, waitFor } from './support/hypnode.js';

// Issue #22, point 6: a first start whose workers die before they are ever ready gives up after
// --start-tries deaths in a slot, and exits non-zero with the app's own error; with
// --start-tries 0 it retries on (see stray-workers.test.ts, which fixes the code meanwhile).

/** Generous: three boots of a small app and the backoff between them take about a second. */
const GIVES_UP_WITHIN_MS = 30_000;

test('hypnode start gives up after --start-tries deaths before ready: exit 1, the app\'s error in its log, no worker left', async (t) => {
  const { app } = bootCrashApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--start-tries', '3'], { env: { PORT: String(port) }, wait: false });
  const code = await waitFor('the manager to give up', () => h.exitCode, GIVES_UP_WITHIN_MS, 100);
  assert.equal(code, 1, h.output);
  assert.match(h.output, /error: the app cannot start: worker \d+ \(generation 1\) exited with code 1 before it was ready; giving up after 3 tries \(--start-tries\)/);
  assert.match(h.output, new RegExp(`error:\\s+${BOOT_ERROR}`), 'the app\'s last words are in the error');
  const died = [...h.output.matchAll(/\[g1 (\d+)\] FATAL/g)].map((m) => Number(m[1]));
  // Counted slot by slot: the slot that died a third time ended it, the other had died fewer
  // times, and its worker booting then may still say its error before the manager ends it.
  assert.ok(died.length >= 3 && died.length <= 6, `${died.length} workers died at boot`);
  assert.deepEqual(died.filter(alive), [], 'no worker outlives the manager');
});

test('hypnode start --daemon that gives up fails with the app\'s error, in seconds', async (t) => {
  const { app } = bootCrashApp(t);
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-run-');
  const started = Date.now();
  const r = await runCli(['start', app, '--workers', '1', '--start-tries', '2', '--daemon', '--log-file', join(runtime, 'app.log')], { env: { HYPNODE_RUNTIME_DIR: runtime, PORT: String(port) } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /the manager exited \(code 1\) before it served: worker \d+ \(generation 1\) exited with code 1 before it was ready; giving up after 2 tries/);
  assert.match(r.stderr, new RegExp(BOOT_ERROR));
  assert.ok(Date.now() - started < GIVES_UP_WITHIN_MS, `returned after ${Date.now() - started} ms`);
});
