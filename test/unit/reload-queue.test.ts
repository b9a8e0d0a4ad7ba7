import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReloadQueue } from '../../src/manager/reload-queue.js';

/** A run the test finishes by hand. */
function runs() {
  const started: { resolve(v: number): void }[] = [];
  let n = 0;
  const run = () => new Promise<number>((resolve) => started.push({ resolve: () => resolve(++n) }));
  return { started, run };
}

test('ReloadQueue: one run at a time; requests meanwhile share exactly one more run', async () => {
  const { started, run } = runs();
  const q = new ReloadQueue(run);
  const first = q.request();
  assert.equal(q.busy, true);
  const second = q.request();
  const third = q.request();
  assert.equal(started.length, 1, 'the second run waits for the first');
  started[0]!.resolve(0);
  assert.equal(await first, 1);
  await new Promise((r) => setImmediate(r));
  assert.equal(started.length, 2, 'then one more run, for both');
  started[1]!.resolve(0);
  assert.equal(await second, 2);
  assert.equal(await third, 2, 'every caller who asked meanwhile gets that run');
  assert.equal(q.busy, false);
});

test('ReloadQueue: a failed run still lets the queued one start', async () => {
  let calls = 0;
  const q = new ReloadQueue(() => (++calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve(calls)));
  const first = q.request();
  const second = q.request();
  await assert.rejects(first, /boom/);
  assert.equal(await second, 2);
});
