import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { Probation, type CrashWatch } from '../../src/manager/probation.js';
import { FakeClock } from '../support/fake-host.js';

const death = { pid: 7 };
type Death = typeof death;

/** Crashes the test emits, and whether the probation still listens. */
function crashes(): { watch: CrashWatch<Death>; emit(d: Death): void; listening(): number } {
  const e = new EventEmitter<{ crash: [Death] }>();
  return {
    watch: (listener) => {
      e.on('crash', listener);
      return () => e.off('crash', listener);
    },
    emit: (d) => e.emit('crash', d),
    listening: () => e.listenerCount('crash'),
  };
}

test('Probation: passes once the window is over and the old side drained', async () => {
  const clock = new FakeClock();
  const c = crashes();
  const p = new Probation(c.watch, 50, clock);
  assert.equal(p.lasts, true);
  let drain!: () => void;
  const drained = new Promise<void>((r) => (drain = r));
  let verdict: Death | null | 'pending' = 'pending';
  void p.verdict(drained).then((v) => (verdict = v));
  await clock.advance(100);
  assert.equal(verdict, 'pending', 'the window is over, but the old side has not drained');
  drain();
  await clock.advance(1);
  assert.equal(verdict, null);
  assert.equal(c.listening(), 0, 'it stops watching');
});

test('Probation: a crash, even before the switch, fails it at once', async () => {
  const clock = new FakeClock();
  const c = crashes();
  const p = new Probation(c.watch, 10_000, clock);
  c.emit(death);
  assert.equal(await p.verdict(new Promise(() => {})), death);
  const later = crashes();
  const q = new Probation(later.watch, 10_000, clock);
  const verdict = q.verdict(Promise.resolve());
  await clock.advance(20);
  later.emit(death);
  assert.equal(await verdict, death);
});

test('Probation 0: none; the verdict is the drain alone', async () => {
  const c = crashes();
  const p = new Probation(c.watch, 0, new FakeClock());
  assert.equal(p.lasts, false);
  c.emit(death);
  assert.equal(await p.verdict(Promise.resolve()), null);
  assert.equal(c.listening(), 0);
});
