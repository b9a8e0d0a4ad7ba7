import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootCrashApp } from './support/boot-crash.js';
import { quickStatus } from './support/faults.js';
import { freePort, startHypnode, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #22, point 1: after a reload that exits 0, only the new generation's workers exist and
// serve, whatever the old one was doing: here a first generation that never served, crashing at
// boot and backing off, with a respawn pending when the reload comes.

for (const batched of [false, true]) {
  test(`a reload that exits 0 leaves no worker of a generation that never served, even past its longest pending backoff${batched ? ' (batched)' : ''}`, async (t) => {
    const { dir, app } = bootCrashApp(t);
    const port = await freePort();
    const h = await startHypnode(t, app, ['--workers', '2', '--start-tries', '0', '--probation', '0.5', ...(batched ? ['--reload-batch', '1'] : [])], { env: { PORT: String(port) }, wait: false });
    const backoffs = () => [...h.output.matchAll(/\(generation 1\)[^\n]*starting another in (\d+) ms/g)].map((m) => Number(m[1]));
    // Crashed a few times in a row: its next respawns wait, and one is pending when the reload comes.
    await waitFor('generation 1 to back off', () => backoffs().length >= 3, 30_000);

    rmSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'version.txt'), '2\n');
    const r = await h.cli('reload');
    assert.equal(r.code, 0, r.stderr);
    const reloadedAt = Date.now();
    const onlyGeneration2 = async (when: string) => {
      const s = await quickStatus(h);
      assert.deepEqual(s.generations.map((g) => g.id), [2], `${when}: generations ${JSON.stringify(s.generations)}`);
      assert.deepEqual(s.workers.map((w) => w.generation), [2, 2], `${when}: workers ${JSON.stringify(s.workers)}`);
      const pids = new Set(s.workers.map((w) => w.pid));
      for (let i = 0; i < 12; i++) {
        const a = await get(port);
        assert.equal(a.version, '2', `${when}: answered by version ${a.version} (pid ${a.pid})`);
        assert.ok(pids.has(a.pid), `${when}: answered by pid ${a.pid}, not one of generation 2's ${[...pids].join(', ')}`);
      }
    };
    await onlyGeneration2('at once');
    // Every respawn generation 1 ever announced was due before this (each counts from its crash,
    // which came before the reload ended); a second more for a stray worker to show up.
    await waitFor('the longest backoff of generation 1 to pass', () => Date.now() > reloadedAt + Math.max(...backoffs()) + 1000, 20_000);
    await onlyGeneration2(`${Date.now() - reloadedAt} ms later (longest backoff ${Math.max(...backoffs())} ms)`);
  });
}
