import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartFailure, type Generation } from '../../src/manager/generation.js';
import type { WorkerExit } from '../../src/protocol/worker-exit.js';
import { FakeHost } from '../support/fake-host.js';
import { allReady, fakeGeneration, GRACEFUL_TIMEOUT_MS, READY_TIMEOUT_MS, servingGeneration } from '../support/fake-generation.js';

// Generation and its WorkerProcesses on fake workers and a fake clock: each edge of a worker's
// life, in every state of its generation, in milliseconds.

/** The crashes `gen` reports from now on. */
function crashesOf(gen: Generation): WorkerExit[] {
  const crashes: WorkerExit[] = [];
  gen.on('crash', (exit) => crashes.push(exit));
  return crashes;
}

test('first start: serves once every slot accepts; a worker that dies starting is started again', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 1, 2);
  let served = false;
  void gen.start('first').then(() => (served = true));
  const [a, b] = host.live(1);
  a!.exit(1);
  await host.advance(1);
  assert.equal(host.live(1).length, 2, 'the dead worker\'s slot has a new one at once (the first crash waits nothing)');
  await allReady(host, 1);
  assert.ok(served);
  assert.equal(gen.state, 'serving');
  assert.equal(gen.servingCount(), 2);
  assert.ok(b!.sent.some((m) => m.hypnode === 'accept'));
});

test('first start: a slot whose workers die before ready --start-tries times fails the start', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 1, 1, 2);
  const started = gen.start('first');
  host.live(1)[0]!.exit(1);
  await host.advance(1);
  host.live(1)[0]!.exit(1);
  await assert.rejects(started, (err: StartFailure) => err instanceof StartFailure && /giving up after 2 tries/.test(err.message));
});

test('reload start: a worker dying while starting fails it; one that says not-ready too', async () => {
  for (const end of ['crash', 'not-ready'] as const) {
    const host = new FakeHost();
    const gen = fakeGeneration(host, 2, 2);
    const started = gen.start('standby');
    const w = host.live(2)[0]!;
    if (end === 'crash') w.exit(1);
    else w.say({ hypnode: 'not-ready', reason: 'probe answered 503' });
    await assert.rejects(started, StartFailure);
    if (end === 'not-ready') assert.deepEqual(w.signalled, ['SIGKILL']);
  }
});

test('reload start: stands by without accepting until takeOver()', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 2, 2);
  const started = gen.start('standby');
  await allReady(host, 2);
  await started;
  assert.ok(host.live(2).every((w) => !w.sent.some((m) => m.hypnode === 'accept')), 'standing by, nobody accepts');
  await gen.takeOver();
  assert.equal(gen.servingCount(), 2);
});

test('reload start: not all ready within the ready timeout fails it', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 2, 2);
  const started = gen.start('standby');
  host.live(2)[0]!.ready();
  let failure: unknown = null;
  started.catch((err: unknown) => (failure = err));
  await host.advance(READY_TIMEOUT_MS);
  assert.ok(failure instanceof StartFailure && /not ready within 10s \(1 of 2 workers ready\)/.test(failure.message), String(failure));
});

test('a worker dying while standing by is a crash (a probation counts it) and its slot is filled again', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 2, 1);
  const started = gen.start('standby');
  await allReady(host, 2);
  await started;
  const crashes = crashesOf(gen);
  host.live(2)[0]!.exit(1);
  await host.advance(1);
  assert.equal(crashes.length, 1);
  assert.equal(host.live(2).length, 1, 'a new worker in the slot');
});

test('a worker dying while serving is started again, with backoff from the second crash in a row', async () => {
  const host = new FakeHost();
  const gen = await servingGeneration(host, 1, 1);
  host.live(1)[0]!.exit(null, 'SIGSEGV');
  await host.advance(1);
  assert.equal(host.live(1).length, 1);
  host.live(1)[0]!.exit(1);
  await host.advance(50);
  assert.equal(host.live(1).length, 0, 'the second crash in a row waits its backoff (100 ms)');
  await host.advance(100);
  assert.equal(host.live(1).length, 1);
  assert.match(gen.lastCrash!.message, /exited with code 1|code 1/);
});

test('a worker dying while its generation drains is not replaced nor a crash', async () => {
  const host = new FakeHost();
  const gen = await servingGeneration(host, 1, 2);
  for (const w of host.live(1)) w.answers = false;
  const crashes = crashesOf(gen);
  void gen.stopAccepting({ kind: 'replaced' }, 'linger');
  await host.nextTurn();
  host.live(1)[0]!.exit(1);
  await host.advance(1000);
  assert.equal(crashes.length, 0);
  assert.equal(host.live(1).length, 1, 'nothing started in its place');
});

test('a drain that outlasts the graceful timeout is cut: the worker is killed and counted', async () => {
  const host = new FakeHost();
  const gen = await servingGeneration(host, 1, 1);
  const w = host.live(1)[0]!;
  w.answers = false;
  void gen.stopAccepting({ kind: 'replaced' }, 'exit');
  await host.advance(GRACEFUL_TIMEOUT_MS - 1);
  assert.deepEqual(w.signalled, []);
  await host.advance(1);
  assert.deepEqual(w.signalled, ['SIGKILL']);
  assert.equal(gen.killedDraining, 1);
});

test('drained and resumed: lingering workers accept again, and a slot the drain lost is filled', async () => {
  const host = new FakeHost();
  const gen = await servingGeneration(host, 1, 2);
  await gen.stopAccepting({ kind: 'replaced' }, 'linger');
  await gen.drained();
  host.live(1)[0]!.exit(null, 'SIGKILL');
  await gen.resume();
  await host.advance(1);
  assert.equal(gen.state, 'serving');
  assert.equal(host.live(1).length, 2);
  assert.equal(gen.servingCount(), 1, 'the one that lingered serves; the new one is starting');
});

test('a stop while starting (destroy) fails the start and kills every worker', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 2, 2);
  const started = gen.start('standby');
  host.live(2)[0]!.ready();
  await host.nextTurn();
  const killed = gen.destroy({ kind: 'fast-stop' });
  await assert.rejects(started, /stopped before it was ready/);
  await killed;
  assert.equal(gen.state, 'done');
  assert.equal(host.live(2).length, 0);
});

test('a batch that cannot serve within the ready timeout fails grow(); shrink() gives its slots up', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 2, 4);
  const started = gen.start('standby', 2);
  await allReady(host, 2);
  await started;
  await gen.takeOver();
  const grown = gen.grow(4);
  let failure: unknown = null;
  grown.catch((err: unknown) => (failure = err));
  // Slot 2 serves; slot 3 crashes at boot again and again (retried with backoff).
  host.live(2).find((w) => w.slot === 2)!.ready();
  for (let i = 0; i < 20 && !failure; i++) {
    host.live(2).find((w) => w.slot === 3)?.exit(1);
    await host.advance(READY_TIMEOUT_MS / 10);
  }
  assert.ok(failure instanceof StartFailure && /1 of generation 2's workers in slots 2-3 did not serve/.test(failure.message), String(failure));
  gen.shrink(2);
  await host.advance(1000);
  assert.deepEqual(host.live(2).map((w) => w.slot).sort(), [0, 1], 'the batch\'s workers are gone and not started again');
});

test('a fork that fails (out of processes) counts as a worker that died at once', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 2, 1);
  host.failForks = true;
  const started = gen.start('standby');
  await assert.rejects(started, /spawn EAGAIN|could not start|EAGAIN/);
});

test('a frozen manager: an overdue heartbeat deadline spares a worker whose heartbeat waits in the pipe', async () => {
  const host = new FakeHost();
  await servingGeneration(host, 1, 2);
  const [talking, silent] = host.live(1);
  // The manager is frozen for a minute; the workers' heartbeats wait in its pipes meanwhile.
  host.jump(120_000);
  talking!.beat();
  await host.nextTurn();
  assert.deepEqual(talking!.signalled, [], 'its heartbeat, read in the same turn, cancels the verdict');
  assert.deepEqual(silent!.signalled, ['SIGKILL'], 'one that sent nothing is killed');
});

test('a frozen manager: a ready that came during the freeze beats the ready timeout', async () => {
  const host = new FakeHost();
  const gen = fakeGeneration(host, 2, 1);
  const started = gen.start('standby');
  host.jump(READY_TIMEOUT_MS * 3);
  host.live(2)[0]!.ready();
  await host.nextTurn();
  await started;
  assert.equal(gen.state, 'serving');
});
