import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StartFailure, type Generation } from '../../src/manager/generation.js';
import { Rollout, type Incoming, type RolloutPhase } from '../../src/manager/rollout.js';
import { incomingGeneration, outgoingGenerations, outgoingSlots } from '../../src/manager/sides.js';
import type { WorkerExit } from '../../src/protocol/worker-exit.js';
import { FakeHost, type FakeWorker } from '../support/fake-host.js';
import { allReady, fakeGeneration, servingGeneration } from '../support/fake-generation.js';

// The Rollout over real Generations of fake workers (as a reload runs it), and over a scripted
// incoming side (as an upgrade's new manager): each way it can end, on a fake clock.

const PROBATION_MS = 1000;

/** Generation 1 serving `size` workers, and generation 2 to replace it (its workers become ready at the test's word). */
async function setUp(size = 2) {
  const host = new FakeHost();
  const old = await servingGeneration(host, 1, size);
  const next = fakeGeneration(host, 2, size);
  const phases: RolloutPhase[] = [];
  let serving = true;
  const incoming = (slots = size) => incomingGeneration(next, {
    standBy: () => next.start('standby', slots).catch(async (err: unknown) => {
      await next.destroy({ kind: 'superseded' });
      throw err;
    }),
    switchTo: () => {},
    switchBack: () => {},
    discard: () => next.destroy({ kind: 'superseded' }),
  });
  const rollout = (out = outgoingGenerations([old], () => serving), slots = size, judge?: () => Promise<string | null>) => {
    const r = new Rollout(incoming(slots), out, { probationMs: PROBATION_MS, clock: host, judge });
    r.on('phase', (p) => phases.push(p));
    return r;
  };
  return { host, old, next, phases, rollout, stopServing: () => (serving = false) };
}

const said = (w: FakeWorker, what: string) => w.sent.some((m) => m.hypnode === what);

test('a reload: stand by, switch, probation over and the old drained, commit; the old workers exit', async () => {
  const { host, old, next, phases, rollout } = await setUp();
  const olds = host.live(1);
  const r = rollout();
  let end: Awaited<ReturnType<typeof r.run>> | null = null;
  void r.run().then((e) => (end = e));
  await host.nextTurn();
  assert.equal(r.phase, 'standby');
  assert.ok(olds.every((w) => !said(w, 'drain')), 'the old serves while the new one starts');
  await allReady(host, 2);
  assert.deepEqual(phases, ['switched', 'probation']);
  assert.equal(next.servingCount(), 2);
  assert.ok(olds.every((w) => w.sent.some((m) => m.hypnode === 'drain' && m.linger)), 'the old workers drain, and linger for the probation');
  await host.advance(PROBATION_MS - 1);
  assert.equal(end, null, 'still in its probation');
  await host.advance(1);
  assert.deepEqual(phases, ['switched', 'probation', 'committed']);
  assert.ok(end && (end as { ok: boolean }).ok);
  assert.equal(host.live(1).length, 0, 'released, the old workers exited');
  assert.equal(old.state, 'done');
});

test('the traffic refused once the probation passed: judged only then, it rolls back as a crash does', async () => {
  const { host, old, next, phases, rollout } = await setUp();
  let judgedAt = -1;
  const r = rollout(undefined, undefined, async () => {
    judgedAt = host.now();
    return '5xx on 31% of 1,212 requests';
  });
  const running = r.run();
  await allReady(host, 2);
  const switchedAt = host.now();
  await host.advance(PROBATION_MS);
  const end = await running;
  assert.equal(judgedAt, switchedAt + PROBATION_MS, 'judged when the probation had passed, not before');
  assert.ok(!end.ok && 'refused' in end && end.refused === '5xx on 31% of 1,212 requests');
  assert.deepEqual(phases, ['switched', 'probation', 'rolled back']);
  assert.equal(old.servingCount(), 2, 'both old workers accept again');
  await host.advance(1);
  assert.equal(host.live(2).length, 0);
  assert.notEqual(next.state, 'serving');
});

test('probation failing: a new worker dies; the old workers accept again, the new generation goes', async () => {
  const { host, old, next, phases, rollout } = await setUp();
  const r = rollout();
  const running = r.run();
  await allReady(host, 2);
  await host.advance(PROBATION_MS / 2);
  host.live(2)[0]!.exit(1);
  const end = await running;
  assert.ok(!end.ok && 'crash' in end && (end.crash as WorkerExit).code === 1);
  assert.deepEqual(phases, ['switched', 'probation', 'rolled back']);
  assert.ok(r.tookBack);
  assert.equal(old.state, 'serving');
  assert.equal(old.servingCount(), 2, 'both old workers accept again');
  await host.advance(1);
  assert.equal(host.live(2).length, 0);
  assert.notEqual(next.state, 'serving');
});

test('a new worker dying while it stands by fails the start: the old never stopped accepting', async () => {
  const { host, old, phases, rollout } = await setUp();
  const r = rollout();
  const running = r.run();
  await host.nextTurn();
  host.live(2)[0]!.exit(1);
  await assert.rejects(running, StartFailure);
  assert.deepEqual(phases, ['rolled back']);
  assert.equal(r.tookBack, false);
  assert.ok(host.live(1).every((w) => !said(w, 'drain')));
  assert.equal(old.servingCount(), 2);
});

test('an old worker dying while it drains does not fail the probation', async () => {
  const { host, phases, rollout } = await setUp();
  for (const w of host.live(1)) w.answers = false;
  const r = rollout();
  const running = r.run();
  await allReady(host, 2);
  host.live(1)[0]!.exit(1);
  host.live(1)[0]!.exit(0);
  await host.advance(PROBATION_MS);
  assert.ok((await running).ok);
  assert.deepEqual(phases, ['switched', 'probation', 'committed']);
});

test('a stop during a reload: cancelled in its probation, the old workers (the manager stopping) exit; serving on, they accept again', async () => {
  for (const stopping of [true, false]) {
    const { host, old, phases, rollout, stopServing } = await setUp();
    const r = rollout();
    const running = r.run();
    await allReady(host, 2);
    if (stopping) stopServing();
    r.cancel(new Error('hypnode is stopping'));
    await assert.rejects(running, /stopping/);
    assert.deepEqual(phases, ['switched', 'probation', 'rolled back']);
    await host.advance(1);
    if (stopping) assert.equal(host.live(1).length, 0, 'released');
    else assert.equal(old.servingCount(), 2, 'resumed');
  }
});

test('a stop while the new generation stands by: it goes, the old was never touched', async () => {
  const { host, phases, rollout } = await setUp();
  const r = rollout();
  const running = r.run();
  await host.nextTurn();
  r.cancel(new Error('hypnode is stopping'));
  await assert.rejects(running, /stopping/);
  assert.deepEqual(phases, ['rolled back']);
  await host.advance(1);
  assert.equal(host.live(2).length, 0);
  assert.ok(host.live(1).every((w) => !said(w, 'drain')));
});

test('a batched reload\'s first batch: only the old workers of its slots drain; a failed probation gives them their slots back', async () => {
  const { host, old, rollout } = await setUp(4);
  const serving = () => true;
  const r = rollout(outgoingSlots([old], 0, 2, serving), 2);
  const running = r.run();
  await host.nextTurn();
  assert.equal(host.live(2).length, 2, 'the canary: two of four slots');
  await allReady(host, 2);
  const drained = host.live(1).filter((w) => said(w, 'drain')).map((w) => w.slot).sort();
  assert.deepEqual(drained, [0, 1]);
  host.live(2)[1]!.exit(1);
  const end = await running;
  assert.equal(end.ok, false);
  assert.equal(old.servingCount(), 4, 'every old worker serves again');
  assert.equal(old.yieldCount, 0, 'and the slots are the old generation\'s again');
});

test('a batched reload\'s first batch committed: the old workers of its slots exit, the others serve on', async () => {
  const { host, old, rollout } = await setUp(4);
  const r = rollout(outgoingSlots([old], 0, 2, () => true), 2);
  const running = r.run();
  await allReady(host, 2);
  await host.advance(PROBATION_MS);
  assert.ok((await running).ok);
  assert.deepEqual(host.live(1).map((w) => w.slot).sort(), [2, 3]);
  assert.equal(old.servingCount(), 2);
});

/** An incoming side scripted as an upgrade's new manager: each step answers when the test says. */
function scripted(): Incoming<string> & { answer(step: 'standBy' | 'takeOver' | 'commit', err?: Error): void; crash(c: string): void; lose(err: Error): void; aborted: boolean } {
  const waiting = new Map<string, { resolve(): void; reject(err: Error): void }>();
  const listeners = new Set<(c: string) => void>();
  const wait = (step: string) => new Promise<void>((resolve, reject) => waiting.set(step, { resolve, reject }));
  let lose!: (err: Error) => void;
  const lost = new Promise<never>((_, reject) => (lose = reject));
  lost.catch(() => {});
  return {
    aborted: false,
    lost,
    lose,
    standBy: () => wait('standBy'),
    takeOver: () => wait('takeOver'),
    commit: () => wait('commit'),
    async abort() {
      this.aborted = true;
    },
    onCrash(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    answer(step, err) {
      const w = waiting.get(step)!;
      if (err) w.reject(err);
      else w.resolve();
    },
    crash: (c) => listeners.forEach((l) => l(c)),
  };
}

/** An upgrade's rollout from `old` to a scripted new manager, run until the new one took over. */
async function switchedUpgrade(host: FakeHost, old: Generation, probationMs: number) {
  const incoming = scripted();
  const r = new Rollout(incoming, outgoingGenerations([old], () => true), { probationMs, clock: host, keepUntilCommit: true });
  const running = r.run();
  incoming.answer('standBy');
  await host.nextTurn();
  incoming.answer('takeOver');
  await host.nextTurn();
  return { incoming, r, running };
}

test('an upgrade: the old generation is kept through a commit that fails, then accepts again', async () => {
  const { host, old } = await setUp();
  const { incoming, r, running } = await switchedUpgrade(host, old, 0);
  assert.ok(host.live(1).every((w) => w.sent.some((m) => m.hypnode === 'drain' && m.linger)), 'kept, without a probation, for the commit');
  assert.equal(r.phase, 'probation');
  await host.nextTurn();
  incoming.answer('commit', new Error('the new manager exited before it committed'));
  await assert.rejects(running, /before it committed/);
  assert.ok(incoming.aborted && r.tookBack);
  assert.equal(old.servingCount(), 2);
});

test('an upgrade: the new manager dying in its probation rolls back; one that commits releases the old workers', async () => {
  for (const dies of [true, false]) {
    const { host, old } = await setUp();
    const { incoming, r, running } = await switchedUpgrade(host, old, PROBATION_MS);
    await host.advance(PROBATION_MS / 2);
    if (dies) {
      incoming.crash('the new manager exited within its probation');
      assert.deepEqual(await running, { ok: false, crash: 'the new manager exited within its probation' });
      assert.equal(old.servingCount(), 2);
      continue;
    }
    await host.advance(PROBATION_MS / 2);
    assert.equal(r.phase, 'probation', 'waiting for the commit');
    incoming.answer('commit');
    assert.ok((await running).ok);
    assert.equal(r.phase, 'committed');
    assert.equal(host.live(1).length, 0);
    r.cancel(new Error('too late'));
    assert.equal(r.phase, 'committed', 'a stop after the commit takes nothing back');
  }
});


test('an upgrade without a probation: the new manager lost while the old workers drain rolls back at once, not after the drain', async () => {
  const { host, old } = await setUp();
  for (const w of host.live(1)) w.answers = false; // old workers busy: their drain takes long
  const { incoming, r, running } = await switchedUpgrade(host, old, 0);
  for (const w of host.live(1)) {
    w.say({ hypnode: 'stopped-accepting' });
    w.answers = true;
  }
  await host.nextTurn();
  assert.equal(r.phase, 'probation');
  incoming.lose(new Error('the new manager exited'));
  await assert.rejects(running, /the new manager exited/);
  assert.ok(r.tookBack && incoming.aborted);
  assert.ok(host.live(1).every((w) => w.sent.some((m) => m.hypnode === 'resume')), 'the old workers are asked back at once');
});
