import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { BALANCE_RECORD_BYTES, BALANCE_TABLE_BYTES } from '../../src/protocol/balance.js';
import { Balancer, liveCounts, overShare, shareLimit, shortLived } from '../../src/worker/balance.js';

test('shareLimit: no slack while the counts are small, a quarter above the least as they grow', () => {
  assert.deepEqual([0, 1, 3, 4, 8, 40].map(shareLimit), [0, 1, 3, 5, 10, 50]);
});

test('overShare: pauses above the limit, resumes an eighth below it, never alone, never the least loaded', () => {
  assert.equal(overShare(5, [], false), false, 'the only worker always accepts');
  assert.equal(overShare(1, [0, 0, 0], false), true);
  assert.equal(overShare(0, [1, 1, 1], false), false, 'the least loaded worker');
  assert.equal(overShare(1, [1, 2, 9], false), false, 'a tie for the least');
  assert.equal(overShare(10, [8, 9, 12], false), false, 'within a quarter of the least');
  assert.equal(overShare(11, [8, 9, 12], false), true);
  assert.equal(overShare(10, [8, 9, 12], true), true, 'paused at 11: resumes an eighth of 8 below the limit of 10');
  assert.equal(overShare(9, [8, 9, 12], true), false);
  assert.equal(overShare(19, [16], true), true, 'paused: resumes at the limit of 20 less 2');
  assert.equal(overShare(18, [16], true), false);
});

// Connections arriving one at a time, each taken by one of the workers then accepting, which
// decide as balance.ts does: the busiest ends within half its fair share above it.
test('overShare: a pool of persistent connections on N workers ends within 1.5x the fair share', () => {
  for (const workers of [2, 4, 8]) {
    for (const connections of [8, 16, 32, 64]) {
      const counts = new Array<number>(workers).fill(0);
      const paused = new Array<boolean>(workers).fill(false);
      for (let c = 0; c < connections; c++) {
        // Paused workers look again before the next connection (RECHECK_MS is shorter than a connect).
        for (let w = 0; w < workers; w++) if (paused[w]) paused[w] = overShare(counts[w]!, counts.filter((_, o) => o !== w), true);
        const open = paused.map((p, w) => (p ? -1 : w)).filter((w) => w >= 0);
        const taker = open[(c * 7) % open.length]!;
        counts[taker]!++;
        paused[taker] = overShare(counts[taker]!, counts.filter((_, o) => o !== taker), false);
      }
      assert.ok(Math.max(...counts) <= 1.5 * (connections / workers), `${connections} on ${workers}: ${counts.join('/')}`);
    }
  }
});

test('shortLived: by Little\'s law, connections that live under 100 ms on average', () => {
  assert.equal(shortLived(16, 0, 250), false, 'a proxy\'s pool: nothing closed');
  assert.equal(shortLived(16, 3, 250), false, 'a pool and a health check or two');
  assert.equal(shortLived(4, 600, 250), true, 'clients without keep-alive: 1.7 ms each');
  assert.equal(shortLived(4, 10, 250), false, '100 ms each is not short');
  assert.equal(shortLived(4, 11, 250), true);
});

test('liveCounts: the serving, fresh records but its own', () => {
  const table = Buffer.alloc(BALANCE_TABLE_BYTES);
  const put = (seat: number, pid: number, count: number, at: number) => {
    table.writeInt32LE(pid, seat * BALANCE_RECORD_BYTES);
    table.writeInt32LE(count, seat * BALANCE_RECORD_BYTES + 4);
    table.writeDoubleLE(at, seat * BALANCE_RECORD_BYTES + 8);
  };
  put(0, 100, 3, 10_000);
  put(1, 101, 4, 10_000);
  put(2, 0, 0, 10_000); // stopped serving
  put(5, 105, 7, 8_000); // stuck for 2 s
  put(9, 109, 1, 9_500);
  assert.deepEqual(liveCounts(table, 1, 10_000), [3, 1]);
});

test('Balancer: two workers through one table: the one over its share pauses until the other catches up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hypnode-balance-'));
  const fd = openSync(join(dir, 'table'), 'w+');
  ftruncateSync(fd, BALANCE_TABLE_BYTES);
  const worker = (seat: number) => {
    const state = { open: 0, paused: false, canPause: true };
    const balancer = new Balancer({ fd, seat }, {
      open: () => state.open,
      pause: () => state.canPause && (state.paused = true),
      resume: () => void (state.paused = false),
    });
    return { state, balancer };
  };
  const a = worker(0);
  const b = worker(1);
  t.after(() => {
    a.balancer.stop();
    b.balancer.stop();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  a.balancer.start();
  b.balancer.start();
  // An accept within a few ms of the last look at the table, while well within the share, is not looked at.
  await delay(10);
  a.state.open = 1;
  a.balancer.accepted();
  assert.equal(a.state.paused, true, 'one connection more than the other');
  b.state.open = 1;
  b.balancer.accepted();
  assert.equal(b.state.paused, false, 'the least loaded never pauses');
  await delay(50);
  assert.equal(a.state.paused, false, 'a paused worker resumes once the others caught up');

  // A pause that cannot happen yet (no spare handle): the worker goes on accepting and tries again.
  a.state.canPause = false;
  a.state.open = 3;
  a.balancer.accepted();
  assert.equal(a.state.paused, false);
  a.state.canPause = true;
  a.state.open = 4;
  await delay(10);
  a.balancer.accepted();
  assert.equal(a.state.paused, true);

  // A worker that stops serving leaves the reckoning: the other alone accepts whatever it holds.
  b.balancer.stop();
  await delay(50);
  assert.equal(a.state.paused, false);
});

test('Balancer: a worker whose connections live a millisecond does not pause for them; one that holds them does again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hypnode-balance-'));
  const fd = openSync(join(dir, 'table'), 'w+');
  ftruncateSync(fd, BALANCE_TABLE_BYTES);
  const state = { open: 0, paused: false };
  const busy = new Balancer({ fd, seat: 0 }, { open: () => state.open, pause: () => (state.paused = true), resume: () => void (state.paused = false) });
  const idle = new Balancer({ fd, seat: 1 }, { open: () => 0, pause: () => true, resume: () => {} });
  t.after(() => {
    busy.stop();
    idle.stop();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  busy.start();
  idle.start();
  // 300 connections that each close at once, over 300 ms: one open at a time, more than the idle worker's none.
  const churn = async () => {
    const until = Date.now() + 300;
    while (Date.now() < until) {
      state.open = 1;
      busy.accepted();
      state.open = 0;
      await delay(1);
    }
  };
  await churn();
  state.open = 1;
  await delay(10);
  busy.accepted();
  assert.equal(state.paused, false, 'its connections lived short: no pause');
  // Churning far above its share, it writes and reads the table every CHURN_SYNC_MS (50), not at every accept.
  const recorded = () => {
    const record = Buffer.alloc(BALANCE_RECORD_BYTES);
    readSync(fd, record, 0, BALANCE_RECORD_BYTES, 0);
    return record.readInt32LE(4);
  };
  // Open counts kept small, so as not to sway the reckoning of the churn (Little's law) itself.
  state.open = 2;
  let looked = performance.now();
  for (let tries = 0; recorded() !== 2 && tries < 1000; tries++) {
    await delay(1);
    busy.accepted();
    looked = performance.now();
  }
  assert.equal(recorded(), 2, 'a look once the last is older than CHURN_SYNC_MS');
  state.open = 3;
  busy.accepted();
  // A descheduled test could pass CHURN_SYNC_MS between the two: then a look is right, and proves nothing.
  if (performance.now() - looked < 40) assert.equal(recorded(), 2, 'no look at the next accept');
  assert.equal(state.paused, false);
  // They stay open from now on: a window later (the one ending now may still hold the churn) it
  // pauses again. Windows are reckoned on the 250 ms refresh, not in step with them: up to ~1 s.
  for (let waited = 0; waited < 3000 && !state.paused; waited += 20) await delay(20);
  assert.equal(state.paused, true, 'connections held: over its share, it pauses');
});
