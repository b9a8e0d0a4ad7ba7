import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { Generation } from '../../src/manager/generation.js';
import { Probation } from '../../src/manager/probation.js';
import type { WorkerExit } from '../../src/protocol/worker-exit.js';

const death = { pid: 7 } as WorkerExit;
const fakeGeneration = () => new EventEmitter() as unknown as Generation & EventEmitter;

test('Probation: passes once the window is over and the old generation drained', async () => {
  const gen = fakeGeneration();
  const p = new Probation(gen, 50);
  assert.equal(p.lasts, true);
  let drain!: () => void;
  const drained = new Promise<void>((r) => (drain = r));
  const started = Date.now();
  const verdict = p.verdict(drained);
  setTimeout(drain, 120);
  assert.equal(await verdict, null);
  assert.ok(Date.now() - started >= 110, 'it waits for the drain, longer than the window');
  assert.equal(gen.listenerCount('crash'), 0, 'it stops watching');
});

test('Probation: a crash, even before the switch, fails it at once', async () => {
  const gen = fakeGeneration();
  const p = new Probation(gen, 10_000);
  gen.emit('crash', death);
  assert.equal(await p.verdict(new Promise(() => {})), death);
  const later = fakeGeneration();
  const q = new Probation(later, 10_000);
  const verdict = q.verdict(Promise.resolve());
  setTimeout(() => later.emit('crash', death), 20);
  assert.equal(await verdict, death);
});

test('Probation 0: none; the verdict is the drain alone', async () => {
  const gen = fakeGeneration();
  const p = new Probation(gen, 0);
  assert.equal(p.lasts, false);
  gen.emit('crash', death);
  assert.equal(await p.verdict(Promise.resolve()), null);
});
