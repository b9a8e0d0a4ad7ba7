import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListenerRegistry } from '../../src/manager/listeners.js';
import { WorkerProcess } from '../../src/manager/worker-process.js';
import { FakeHost, memoryLog } from '../support/fake-host.js';
import { HEARTBEAT_TIMEOUT_MS, READY_TIMEOUT_MS, spec } from '../support/fake-generation.js';

// One WorkerProcess on a fake worker: the deadlines it keeps itself to, by the fake clock.

function worker(host: FakeHost) {
  const log = memoryLog();
  const w = new WorkerProcess(spec(1), 0, new ListenerRegistry(), log, host);
  return { w, child: host.workers.at(-1)!, log };
}

test('not ready within the ready timeout: killed, and its exit says why', async () => {
  const host = new FakeHost();
  const { w, child, log } = worker(host);
  await host.advance(READY_TIMEOUT_MS);
  assert.deepEqual(child.signalled, ['SIGKILL']);
  const exit = await w.exited;
  assert.deepEqual(exit.endedBy, { kind: 'ready-timeout', afterMs: READY_TIMEOUT_MS });
  assert.equal(exit.exitedAt - exit.startedAt, READY_TIMEOUT_MS, 'on the fake clock');
  assert.ok(log.lines.some((l) => /not ready after 10s: killing it/.test(l)));
});

test('heartbeats keep a worker; silence past the heartbeat timeout kills it', async () => {
  const host = new FakeHost();
  const { w, child } = worker(host);
  child.ready();
  await host.nextTurn();
  assert.equal(w.state, 'standby');
  for (let i = 0; i < 5; i++) {
    await host.advance(HEARTBEAT_TIMEOUT_MS - 1);
    child.beat();
  }
  assert.equal(w.live, true);
  await host.advance(HEARTBEAT_TIMEOUT_MS);
  const exit = await w.exited;
  assert.equal(exit.endedBy?.kind, 'heartbeat-timeout');
});

test('a metrics scrape the worker does not answer gives null at its timeout', async () => {
  const host = new FakeHost();
  const { w, child } = worker(host);
  child.ready();
  await host.nextTurn();
  const scraped = w.metrics(500);
  await host.advance(500);
  assert.equal(await scraped, null);
  const answered = w.metrics(500);
  const sent = child.sent.at(-1) as { hypnode: 'metrics'; id: number };
  child.say({ hypnode: 'metrics', id: sent.id, metrics: [{ name: 'x' }] });
  assert.deepEqual(await answered, [{ name: 'x' }]);
});
