import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Status } from '../src/protocol/status.js';
import { startLoad } from '../tools/load.js';
import { alive, freePort, managersOf, runCli, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';
import { unitName } from '../src/systemd/unit.js';
import { startUserManager, systemdSkipReason } from './support/systemd.js';
import { faultsApp, reachPoint, successorServes, upgrading, type Point } from './support/upgrade-faults.js';

// Issue #22, point 3, under a real systemd and the unit `hypnode unit` writes: the old manager
// (systemd's main process) killed with SIGKILL at each point of an upgrade once the new one's
// workers stand by. systemd follows the PID file to the new manager, which says MAINPID= and
// READY=1 itself: the unit stays active with no restart, no request fails, and the new manager
// (the only one left) answers status, reload and stop.

const skip = systemdSkipReason() ?? false;
const SHOW = ['MainPID', 'NRestarts', 'ActiveState', 'SubState', 'Result'];

async function killOldManager(t: TestContext, point: Point): Promise<void> {
  const sb = await startUserManager(t);
  const { dir, app } = faultsApp(t);
  const service = `${unitName(app, null)}.service`;
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-sdrun-');
  const pidFile = join(runtime, 'app.pid');
  const probation = point === 'probation' ? '30' : '1';
  const made = await runCli(['unit', app, '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--pid-file', pidFile, '--env', `PORT=${port}`, '--probation', probation, '--out', sb.unitDir]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);
  const start = await sb.systemctl('start', service);
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  const status = async (): Promise<Status> => {
    const r = await runCli(['status', app, '--runtime-dir', runtime, '--json']);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout) as Status;
  };
  const before = await status();
  assert.equal((await sb.show(service, ['MainPID'])).MainPID, String(before.pid));

  const load = startLoad({ port, durationMs: 90_000, maxRequests: 200_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  const held = point === 'drain' ? get(port, '/hold?ms=600000', 90_000).catch(() => null) : null;
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const up = upgrading([app, '--runtime-dir', runtime]);
  const successor = await reachPoint(point, { app, oldPid: before.pid, generation: before.generation, pidFile, output: up.output, status });
  process.kill(before.pid, 'SIGKILL');
  assert.notEqual(await up.done, 0, 'the upgrade command lost its manager');

  const after = await sb.waitFor(service, SHOW, (p) => p.MainPID === String(successor) && p.ActiveState === 'active', 30_000);
  const now = await successorServes(t, { point, successor, status, load, held });
  assert.deepEqual([after.NRestarts, after.SubState], ['0', 'running'], sb.managerLog());
  assert.equal(now.generation, (before.generation ?? 0) + 1);
  await waitFor('the old workers to exit', () => (before.workers.some((w) => alive(w.pid)) ? null : true), 10_000);
  assert.deepEqual(managersOf(app), [successor], 'exactly one manager runs');

  writeFileSync(join(dir, 'version.txt'), '3\n');
  const reload = await sb.systemctl('reload', service);
  assert.equal(reload.code, 0, reload.stderr);
  assert.equal((await get(port)).version, '3');
  const again = await sb.show(service, SHOW);
  assert.deepEqual([again.MainPID, again.NRestarts, again.ActiveState], [String(successor), '0', 'active']);
  const stop = await sb.systemctl('stop', service);
  assert.equal(stop.code, 0, stop.stderr);
  const stopped = await sb.show(service, ['ActiveState', 'Result']);
  assert.deepEqual([stopped.ActiveState, stopped.Result], ['inactive', 'success'], sb.managerLog());
  assert.ok(!alive(successor));
}

test('systemd: the old manager killed while the new one stands by: the unit stays active, MainPID the new one, no restart, no request fails', { skip }, async (t) => {
  await killOldManager(t, 'standing by');
});

test('systemd: the old manager killed during the probation: the unit stays active, MainPID the new one, no restart, no request fails', { skip }, async (t) => {
  await killOldManager(t, 'probation');
});

test('systemd: the old manager killed while its workers drain: the unit stays active, MainPID the new one, no restart, no request fails', { skip }, async (t) => {
  await killOldManager(t, 'drain');
});
