import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Readiness } from '../../src/worker/readiness.js';

const tick = () => new Promise((r) => setImmediate(r));

function readiness(waitReady: boolean, probe: () => Promise<string | null> = async () => null) {
  const said: string[] = [];
  let probes = 0;
  const r = new Readiness({
    waitReady,
    probe: () => (probes++, probe()),
    ready: () => said.push('ready'),
    notReady: (reason) => said.push(`not ready: ${reason}`),
  });
  return { r, said, probes: () => probes };
}

test('Readiness: ready once every listen() settled and one listens, then the probe answered', async () => {
  const { r, said, probes } = readiness(false);
  r.requested();
  r.requested();
  r.settled(true);
  await tick();
  assert.deepEqual(said, [], 'one listen() still pending');
  r.settled(false);
  await tick();
  await tick();
  assert.deepEqual(said, ['ready']);
  assert.equal(probes(), 1);
});

test('Readiness: a second listen() made in the first one\'s callback still counts', async () => {
  const { r, said } = readiness(false);
  r.requested();
  r.settled(true);
  r.requested(); // within the same turn, before the check runs
  await tick();
  assert.deepEqual(said, []);
  r.settled(true);
  await tick();
  await tick();
  assert.deepEqual(said, ['ready']);
});

test('Readiness: holdReady() keeps it back; with waitReady the app must say so; a failed probe says why', async () => {
  const held = readiness(false);
  const release = held.r.hold();
  held.r.requested();
  held.r.settled(true);
  await tick();
  assert.deepEqual(held.said, []);
  release();
  release(); // twice is once
  await tick();
  await tick();
  assert.deepEqual(held.said, ['ready']);

  const waiting = readiness(true);
  waiting.r.requested();
  waiting.r.settled(true);
  await tick();
  assert.deepEqual(waiting.said, [], 'listening is not enough with waitReady');
  waiting.r.said();
  await tick();
  await tick();
  assert.deepEqual(waiting.said, ['ready']);

  const failing = readiness(false, async () => 'the readiness probe GET / was answered 503');
  failing.r.requested();
  failing.r.settled(true);
  await tick();
  await tick();
  assert.deepEqual(failing.said, ['not ready: the readiness probe GET / was answered 503']);
});
