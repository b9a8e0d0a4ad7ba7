import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { faultApp, get, hold, quickStatus, sleep } from './support/faults.js';
import { alive, assertNoneLeft, freePort, startHypnode, waitFor } from './support/hypnode.js';

// Issue #5, faults during a graceful drain: however the old worker behaves, the drain ends
// within the graceful timeout, and the manager goes on.

const GRACE_S = 3;

test('a worker that exits in the middle of its drain ends the drain at once, and is not replaced', async (t) => {
  const { dir, app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1', '--graceful-timeout', '30'], { env: { PORT: String(port), EXIT_ON_DRAIN: '1' } });
  const [old] = (await quickStatus(h)).workers;
  const busy = hold(port, '/sleep?ms=20000');
  await waitFor('the request to arrive', async () => (await quickStatus(h)).workers[0]?.connections === 1);
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const startedAt = Date.now();
  const r = await h.cli('reload');
  busy.destroy();
  t.diagnostic(`the reload took ${Date.now() - startedAt} ms (graceful timeout 30 s)`);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(h.output, /graceful timeout\): killing it/, 'the drain ended with the worker, not at the graceful timeout');
  assert.equal(alive(old!.pid), false);
  const s = await quickStatus(h);
  assert.deepEqual(s.workers.map((w) => w.generation), [2], 'no worker of the old generation was started again');
  assert.equal(s.lastCrash, null, 'an exit while draining is no crash');
  assert.equal((await get(port)).version, '2');
});

test("an app that closes its own server when told to drain resets no idle keep-alive connection", async (t) => {
  // http.Server#close() drops idle keep-alive connections at once, racing with a request the
  // client may already have sent on one. Frameworks call it during a drain (fastify closes the
  // servers of its other addresses when its first one closes), so hypnode must defuse it: the
  // connection is to be answered once more, with Connection: close, by the old worker.
  const { dir, app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port), CLOSE_ON_DRAIN: '1' } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const first = await request(agent, port);
  assert.equal(first.headers.connection, 'keep-alive');
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const reload = h.cli('reload');
  // Draining, or gone already: with its connection dropped at once, nothing holds it.
  await waitFor('the old worker to drain', async () => {
    const old = (await quickStatus(h)).workers.find((w) => w.pid === first.pid);
    return !old || old.state === 'draining';
  }, 10_000, 20);
  await sleep(100);
  const second = await request(agent, port);
  assert.equal(second.pid, first.pid, 'the idle keep-alive connection was still open, and its old worker answered on it');
  assert.equal(second.headers.connection, 'close');
  assert.equal((await reload).code, 0);
});

test('a worker that ignores SIGTERM and never answers a request is killed at the graceful timeout when the manager stops', async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--graceful-timeout', String(GRACE_S)], { env: { PORT: String(port), IGNORE_SIGTERM: '1' } });
  const pids = (await quickStatus(h)).workers.map((w) => w.pid);
  const stuck = [hold(port, '/never'), hold(port, '/never'), hold(port, '/never')];
  await waitFor('the requests to arrive', async () => (await quickStatus(h)).workers.reduce((n, w) => n + w.connections, 0) === 3);
  // As systemd's KillMode=control-group does: TERM to the manager and to every worker.
  const startedAt = Date.now();
  for (const pid of [h.pid, ...pids]) process.kill(pid, 'SIGTERM');
  const code = await h.exited;
  const took = Date.now() - startedAt;
  for (const req of stuck) req.destroy();
  t.diagnostic(`the stop took ${took} ms (graceful timeout ${GRACE_S} s)`);
  assert.equal(code, 0);
  assert.match(h.output, /ignoring SIGTERM/);
  assert.match(h.output, new RegExp(`still busy ${GRACE_S}s into its drain \\(graceful timeout\\): killing it`));
  await assertNoneLeft(h);
});

test('a worker that never closes its keep-alive connections is ended at the graceful timeout; the reload completes', async (t) => {
  const { dir, app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1', '--graceful-timeout', String(GRACE_S)], { env: { PORT: String(port), FORCE_KEEP_ALIVE: '1' } });
  const [old] = (await quickStatus(h)).workers;
  // One connection kept busy back to back, so it is never idle long enough to be closed.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let running = true;
  const pids = new Set<number>();
  const client = (async () => {
    for (let n = 0; running && n < 100_000; n++) {
      await new Promise<void>((resolve) => {
        http
          .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
            pids.add(Number(res.headers['x-pid']));
            res.resume().on('end', resolve);
          })
          .on('error', () => resolve());
      });
    }
  })();
  await waitFor('the client to reach the old worker', () => pids.has(old!.pid));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const startedAt = Date.now();
  const r = await h.cli('reload');
  const took = Date.now() - startedAt;
  running = false;
  await client;
  agent.destroy();
  t.diagnostic(`the reload took ${took} ms (graceful timeout ${GRACE_S} s)`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(alive(old!.pid), false);
  assert.match(h.output, new RegExp(`worker ${old!.pid} \\(generation 1\\) still busy ${GRACE_S}s into its drain`));
  // Issue #24: the reload says the old worker was killed, not drained, and status keeps the count.
  assert.match(r.stdout, /old workers ended +after [\d.]+ s: 1 old worker killed, still busy at the graceful timeout \(not drained\)/, r.stdout);
  assert.doesNotMatch(r.stdout, /drained +after/);
  const last = (await h.status()).lastReload;
  assert.equal(last?.ok && last.killedDraining, 1);
  await sleep(100);
  assert.equal((await get(port)).version, '2');
});

function request(agent: http.Agent, port: number): Promise<{ pid: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ pid: Number(res.headers['x-pid']), headers: res.headers }));
      })
      .on('error', reject);
  });
}
