import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Status } from '../src/protocol/status.js';
import { startLoad } from '../tools/load.js';
import { exampleApp, freePort, startHypnode, type Hypnode } from './support/hypnode.js';

// Issue #16: --reload-batch replaces the workers a few at a time, so a reload never holds much
// more than the steady state; every promise of a reload still holds. And replacements for
// --accepts/--max-rss never come in a herd.

/** Polls the status until `done`, keeping the most workers alive at once and every generation seen. */
function watchWorkers(h: Hypnode): { stop(): Promise<{ most: number; generations: Set<number> }> } {
  let most = 0;
  const generations = new Set<number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const s = await h.status().catch(() => null);
      if (s) {
        most = Math.max(most, s.workers.filter((w) => w.state !== 'exited').length);
        for (const g of s.generations) generations.add(g.id);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { most, generations };
    },
  };
}

test('a reload in batches of 1 under load fails no request, never runs more than workers + 1, and returns only once every worker runs the new code', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '4', '--reload-batch', '1', '--probation', '0.5'], { env: { PORT: String(port), BOOT_DELAY_MS: '150' } });
  const before = await h.status();
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 200_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const watch = watchWorkers(h);
  const r = await h.cli('reload');
  const returnedAt = Date.now();
  const { most } = await watch.stop();
  await new Promise((r) => setTimeout(r, 300));
  const result = await load.stop();
  assert.equal(r.code, 0, `${r.stderr}\n${h.output}`);
  for (let batch = 1; batch <= 4; batch++) assert.match(r.stderr, new RegExp(`batch ${batch}/4`), 'progress per batch');
  assert.deepEqual(result.failures, {}, 'no request may fail during a batched reload');
  assert.ok(result.versions['1'] && result.versions['2']);
  assert.ok(most <= 5, `at most workers + batch alive at once (saw ${most})`);
  const stale = result.samples.filter((s) => s.start > returnedAt && s.version === '1');
  assert.equal(stale.length, 0, 'once the reload returned, only new code answers');
  const after = await h.status();
  assert.equal(after.generation, (before.generation ?? 0) + 1);
  assert.deepEqual(after.generations.map((g) => g.id), [after.generation], 'the old generation is gone');
  assert.equal(after.workersReady, 4);
});

test('a failing canary fails the batched reload as a plain one fails; a later batch that fails says what serves, and the next reload converges', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '4', '--reload-batch', '50%', '--ready-timeout', '3', '--probation', '0.5'], { env: { PORT: String(port) } });
  const before = await h.status();
  const good = readFileSync(app, 'utf8');
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 200_000, keepAliveClients: 2, newConnectionClients: 2 });

  // The canary (slots 0 and 1) cannot start: nothing changes.
  writeFileSync(app, `throw new Error('broken release');\n${good}`);
  const canary = await h.cli('reload');
  assert.equal(canary.code, 1);
  assert.match(canary.stderr, /broken release/);
  const kept = await h.status();
  assert.deepEqual(kept.workers.map((w) => w.pid).sort(), before.workers.map((w) => w.pid).sort(), 'the old workers untouched');

  // Only slots 2 and 3 fail (the second batch): the reload fails after the ready timeout, half and half serve.
  writeFileSync(app, `if (Number(process.env.HYPNODE_WORKER_INDEX) >= 2) throw new Error('slot-bound failure');\n${good}`);
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const partial = await h.cli('reload');
  assert.equal(partial.code, 1, partial.stdout);
  assert.match(partial.stderr, /slot-bound failure/);
  assert.match(partial.stderr, /generation \d+ serves 2 of 4 workers; generation \d+ the other 2/);
  const mixed = await h.status();
  const byGeneration = (s: Status) => Object.fromEntries(s.generations.map((g) => [g.id, s.workers.filter((w) => w.generation === g.id && w.state === 'ready').length]));
  assert.equal(mixed.generations.length, 2, 'status shows both generations');
  assert.deepEqual(Object.values(byGeneration(mixed)).sort(), [2, 2]);
  assert.equal(mixed.state, 'serving');

  writeFileSync(app, good);
  writeFileSync(join(dir, 'version.txt'), '3\n');
  const converge = await h.cli('reload');
  assert.equal(converge.code, 0, converge.stderr);
  const after = await h.status();
  assert.deepEqual(after.generations.map((g) => g.id), [after.generation]);
  assert.equal(after.workersReady, 4);
  const result = await load.stop();
  assert.deepEqual(result.failures, {}, 'no request failed through failed and partial reloads');
  assert.ok(result.versions['3']);
});

test('workers that reach --accepts together are replaced one at a time, not in a herd; --accepts-jitter spreads them', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '4', '--accepts', '40'], { env: { PORT: String(port), BOOT_DELAY_MS: '200' } });
  const first = await h.status();
  const watch = watchWorkers(h);
  // New connections, spread over the 4 workers by the kernel: they reach 40 at about the same time.
  // The kernel wakes whichever worker waits, not each in turn (unevenly so on a busy machine), so
  // the load goes on in rounds until 3 of the first 4 have reached their limit, within bounds.
  const replacedNow = (s: Status) => first.workers.filter((w) => !s.workers.some((x) => x.pid === w.pid)).length;
  const failures: Record<string, number> = {};
  for (let round = 0; round < 10 && replacedNow(await h.status()) < 3; round++) {
    const result = await startLoad({ port, durationMs: 10_000, maxRequests: 400, keepAliveClients: 0, newConnectionClients: 8, slowEvery: 0 }).done;
    for (const [reason, n] of Object.entries(result.failures)) failures[reason] = (failures[reason] ?? 0) + n;
  }
  await new Promise((r) => setTimeout(r, 1500));
  const { most } = await watch.stop();
  assert.deepEqual(failures, {});
  const replaced = replacedNow(await h.status());
  assert.ok(replaced >= 3, `the workers were replaced (${replaced} of 4)`);
  assert.ok(most <= 5, `one replacement at a time: at most 5 workers alive at once (saw ${most})`);
  assert.match(h.output, /replacing worker/);

  const jittered = await startHypnode(t, app, ['--workers', '4', '--accepts', '40', '--accepts-jitter', '1000'], { env: { PORT: String(await freePort()) } });
  const limits = (await jittered.status()).workers.map((w) => w.acceptsLimit);
  assert.ok(limits.every((l) => l >= 40 && l <= 1040), JSON.stringify(limits));
  assert.ok(new Set(limits).size > 1, `each worker draws its own limit: ${JSON.stringify(limits)}`);
});
