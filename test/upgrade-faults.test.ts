import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startLoad } from '../tools/load.js';
import { alive, freePort, managersOf, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';
import { faultsApp, reachPoint, successorServes, upgrading, type Point } from './support/upgrade-faults.js';

// Issue #22, point 3, outside systemd: the old manager killed (kill -9) at each point of an
// upgrade once the new one's workers stand by. The new manager finishes the takeover alone (PID
// file, control socket, --admin), under load with no failed request; afterwards exactly one
// manager runs, and status, reload and stop work. And point 7: no `.handover` file is left.

async function killOldManager(t: TestContext, point: Point): Promise<void> {
  const { dir, app } = faultsApp(t);
  const port = await freePort();
  const pidFile = join(tempDir(t, 'hypnode-pid-'), 'app.pid');
  const probation = point === 'probation' ? '30' : '1';
  const h = await startHypnode(t, app, ['--workers', '2', '--pid-file', pidFile, '--probation', probation], { env: { PORT: String(port) } });
  const before = await h.status();
  let successor = 0;
  t.after(async () => {
    if (successor && alive(successor)) process.kill(successor, 'SIGTERM');
    await waitFor('the new manager to exit', () => (successor && alive(successor) ? null : true), 10_000).catch(() => {});
    for (const pid of [successor, ...h.seenPids]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 100_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  // A request the old generation holds past the point the old manager dies at: it keeps it draining.
  const held = point === 'drain' ? get(port, '/hold?ms=600000', 60_000).catch(() => null) : null;
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const up = upgrading([h.app], h.env);
  successor = await reachPoint(point, { app, oldPid: h.pid, generation: before.generation, pidFile, output: up.output, status: () => h.status() });
  process.kill(h.pid, 'SIGKILL');
  await h.exited;
  assert.notEqual(await up.done, 0, 'the upgrade command lost its manager');

  const after = await successorServes(t, { point, successor, status: () => h.status(), load, held });
  assert.match(h.output, new RegExp(`the old manager ${h.pid} died during the upgrade, [^:]*: this manager completes the takeover by itself`));
  assert.equal(after.generation, (before.generation ?? 0) + 1);
  await waitFor('the old workers to exit', () => (before.workers.some((w) => alive(w.pid)) ? null : true), 10_000);
  assert.deepEqual(managersOf(app), [successor], 'exactly one manager runs');
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(successor));

  writeFileSync(join(dir, 'version.txt'), '3\n');
  const reload = await h.cli('reload');
  assert.equal(reload.code, 0, reload.stderr);
  assert.equal((await get(port)).version, '3');
  const stop = await h.cli('stop');
  assert.equal(stop.code, 0, stop.stderr);
  await waitFor('the new manager to exit', () => (alive(successor) ? null : true), 30_000);
  assert.ok(!existsSync(pidFile), 'the new manager removed its PID file');
}

test('the old manager killed while the new one stands by (before it takes the traffic): the new one takes over alone, no request fails', async (t) => {
  await killOldManager(t, 'standing by');
});

test('the old manager killed during the probation, its workers drained: the new one takes over alone, no request fails', async (t) => {
  await killOldManager(t, 'probation');
});

test('the old manager killed while its workers drain: the new one takes over alone, no request fails', async (t) => {
  await killOldManager(t, 'drain');
});

test('the new manager killed during the probation, after it claimed the PID file: the old one serves on and names itself again, no request fails', async (t) => {
  const { dir, app } = faultsApp(t);
  const port = await freePort();
  const pidFile = join(tempDir(t, 'hypnode-pid-'), 'app.pid');
  const h = await startHypnode(t, app, ['--workers', '2', '--pid-file', pidFile, '--probation', '30'], { env: { PORT: String(port) } });
  const before = await h.status();
  let successor = 0;
  t.after(() => {
    for (const pid of [successor, ...h.seenPids]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 100_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const up = upgrading([h.app], h.env);
  successor = await reachPoint('probation', { app, oldPid: h.pid, generation: before.generation, pidFile, output: up.output, status: () => h.status() });
  const newWorkers = readFileSync(`/proc/${successor}/task/${successor}/children`, 'utf8').trim().split(' ').map(Number);
  assert.ok(newWorkers.length >= 2, `the new manager's workers: ${newWorkers.join(' ')}`);
  process.kill(successor, 'SIGKILL');
  assert.equal(await up.done, 1, up.output());
  assert.match(up.output(), /upgrade failed: the new manager \d+ exited within its probation/);
  await new Promise((r) => setTimeout(r, 500));
  const result = await load.stop();
  t.diagnostic(`${result.total} requests, ${JSON.stringify(result.failures)} failed`);
  assert.deepEqual(result.failures, {}, 'no request may fail when the new manager dies');
  const after = await h.status();
  assert.equal(after.pid, h.pid, 'the old manager serves on');
  assert.deepEqual(after.workers.map((w) => w.pid).sort(), before.workers.map((w) => w.pid).sort(), 'its workers accept again');
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(h.pid), 'the PID file names the old manager again');
  await waitFor('the new workers to exit', () => (newWorkers.some(alive) ? null : true), 10_000);
  assert.deepEqual(managersOf(app), [h.pid], 'exactly one manager runs');
  const stop = await h.cli('stop');
  assert.equal(stop.code, 0, stop.stderr);
});

test('two upgrades leave no .handover file beside the control socket or a unix --admin socket', async (t) => {
  const { app } = faultsApp(t);
  const port = await freePort();
  const adminDir = tempDir(t, 'hypnode-admin-');
  const h = await startHypnode(t, app, ['--workers', '1', '--probation', '0', '--admin', join(adminDir, 'admin.sock')], { env: { PORT: String(port) } });
  const managers = [h.pid];
  t.after(async () => {
    for (const pid of managers.slice(1)) if (alive(pid)) process.kill(pid, 'SIGTERM');
    await waitFor('the managers to exit', () => (managers.some(alive) ? null : true), 10_000).catch(() => {});
    for (const pid of [...managers, ...h.seenPids]) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  for (let i = 0; i < 2; i++) {
    const r = await h.cli('upgrade');
    assert.equal(r.code, 0, r.stderr);
    managers.push((await h.status()).pid);
  }
  const left = [...readdirSync(h.env.HYPNODE_RUNTIME_DIR!), ...readdirSync(adminDir)].filter((f) => f.endsWith('.handover'));
  assert.deepEqual(left, []);
  const stop = await h.cli('stop');
  assert.equal(stop.code, 0, stop.stderr);
});
