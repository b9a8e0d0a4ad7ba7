import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ReloadResult } from '../src/protocol/status.js';
import { ask, faultApp, get, usage, type Usage } from './support/faults.js';
import { freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';

// Issue #5, soak: 1000 reloads in a row leave the manager no bigger: its resident memory grows
// by less than 5 MB and its open file descriptors not at all. The app has a hypnode.config.mjs,
// which every reload reads again (each import of it used to stay in memory for good).
//
// Reading memory right: the manager's resident memory swings by 10 MB with its garbage
// collector's cycles (measured: 60 to 72 MB and back), so each reading follows a full garbage
// collection, asked for with a signal (support/gc-on-signal). V8 also sizes its young generation
// by how much survives it, in steps of 8 then 16 MB up to 32 MB, at a moment no test can choose,
// and a full collection never shrinks it: a CI run saw the RSS step up 17 MB between two readings
// while the heap in use stayed at 9 MB. That is a bounded, one-time cost, not growth, so the
// manager under test runs with its young generation fixed at its smallest (1 MB semi-spaces):
// then what remains is what the manager keeps (measured over 1600 reloads: -0.2 MB with the
// config file, +0.6 MB without). And it first settles: over the first few hundred reloads it
// grows by 2 to 4 MB (compiled code, the heap's pages, malloc's arenas), so the count starts after
// a warm-up.
//
// What is measured is growth, never time: no limit on how long the reloads take (about 4 minutes
// on an idle 2-core machine, many more on a busy one), and each reading waits for the manager's
// word that its collection is done. A reload that cannot finish fails on the manager's own
// timeouts (the ready timeout, the graceful timeout in the config file), not on the test's.

// SOAK_RELOADS and SOAK_WARM_UP shorten it, to try it on a machine too busy for the whole run.
const RELOADS = Number(process.env.SOAK_RELOADS ?? 1000);
const WARM_UP = Number(process.env.SOAK_WARM_UP ?? 200);
const GC_ON_SIGNAL = new URL('./support/gc-on-signal.js', import.meta.url).href;

test(`${RELOADS} reloads in a row: the manager's memory and file descriptors do not grow`, async (t) => {
  const { dir, app } = faultApp(t);
  // A new worker may take its time to be ready (once, under stress-ng and three other test runs,
  // one of 1150 took over 60 s, the default): 300 s still fails a worker that never gets ready,
  // and measures no machine.
  writeFileSync(join(dir, 'hypnode.config.mjs'), 'export default { gracefulTimeout: 5, probation: 0.05, readyTimeout: 300 };\n');
  const port = await freePort();
  const acks = tempDir(t);
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port), GC_ACK_DIR: acks, NODE_OPTIONS: `--max-semi-space-size=1 --import=${GC_ON_SIGNAL}` } });
  let collections = 0;
  const collected = async () => {
    process.kill(h.pid, 'SIGURG');
    const done = ++collections;
    await waitFor('the manager to collect its garbage', () => {
      try {
        return Number(readFileSync(join(acks, String(h.pid)), 'utf8')) >= done;
      } catch {
        return false;
      }
    }, 600_000);
    return usage(h.pid);
  };
  const reload = async (n: number) => {
    const r = await ask(h, 'reload');
    assert.ok(r.ok, `reload ${n} failed: ${JSON.stringify(r)}`);
    return (r.result as ReloadResult & { ok: true }).generation;
  };

  const began = performance.now();
  const atStart = await collected();
  for (let n = 1; n <= WARM_UP; n++) await reload(n);
  const warm = await collected();
  const trend: string[] = [];
  let generation = 0;
  for (let n = 1; n <= RELOADS; n++) {
    generation = await reload(n);
    if (n % 250 === 0 || n === RELOADS) {
      trend.push(`${n}: ${mib((await collected()).rssKiB)}`);
      assert.equal((await get(port, '/', 120_000)).status, 200, `serving after ${n} reloads`);
    }
  }
  const end = await collected();
  const took = performance.now() - began;

  t.diagnostic(`${WARM_UP} + ${RELOADS} reloads in ${(took / 1000).toFixed(1)} s (${(took / (WARM_UP + RELOADS)).toFixed(0)} ms each), last generation ${generation}`);
  t.diagnostic(`manager at start: ${show(atStart)}; after ${WARM_UP} warm-up reloads: ${show(warm)}; after ${RELOADS} more: ${show(end)}`);
  t.diagnostic(`rss after each 250 reloads: ${trend.join(', ')}`);
  t.diagnostic(`growth over the ${RELOADS} reloads: rss ${mib(end.rssKiB - warm.rssKiB)}, fds ${end.fds - warm.fds}`);
  assert.equal(generation, 1 + WARM_UP + RELOADS);
  assert.ok(end.rssKiB - warm.rssKiB < 5 * 1024, `the manager's RSS grew by ${mib(end.rssKiB - warm.rssKiB)}`);
  assert.ok(end.fds <= warm.fds, `the manager holds ${end.fds - warm.fds} more file descriptors`);
});

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function show(u: Usage): string {
  return `rss ${mib(u.rssKiB)}, ${u.fds} fds`;
}
