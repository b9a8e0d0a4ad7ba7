import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Status } from '../src/protocol/status.js';
import { startLoad, type LoadResult } from '../tools/load.js';
import { cachedNode } from '../tools/node-lines.js';
import { cachedSystemd254 } from '../tools/systemd-backports.js';
import { alive, CLI, exampleApp, freePort, runCli, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';
import { startUserManager, systemdSkipReason } from './support/systemd.js';

// Issue #15 under a real systemd: `hypnode upgrade` replaces the manager (here onto another Node
// line) under load, and systemd follows the main PID exactly once: no restart, the unit active,
// the new manager its MainPID, the old one and its workers gone; a reload, a restart (through the
// fd store) and a stop afterwards work as before. Both ways a unit can run hypnode: Type=notify
// (as `hypnode unit` writes it) and Type=forking with --daemon and a PID file.

const skip = systemdSkipReason() ?? false;
const SERVICE = 'hypnode-app.service';
const SHOW = ['MainPID', 'NRestarts', 'ActiveState', 'SubState', 'Result', 'StatusText'];

/** Another Node line when the suite has one (the matrix fetches them), copied where the hardened unit may run it. */
function otherNode(t: TestContext): string {
  const found = otherLine() ?? process.execPath;
  const copy = join(tempDir(t, 'hypnode-node-'), 'node');
  copyFileSync(found, copy);
  return copy;
}

/** Node 24 from 22 and 20, 22 from 24. */
export function otherLine(): string | null {
  return process.versions.node.startsWith('24.') ? cachedNode(22) : cachedNode(24);
}

function nodeVersion(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
}

async function status(app: string, runtime: string): Promise<Status> {
  const r = await runCli(['status', app, '--runtime-dir', runtime, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Status;
}

function assertNoFailures(result: LoadResult, what: string): void {
  assert.deepEqual(result.failures, {}, `${what}: ${result.failed} of ${result.total} requests failed`);
  assert.ok(result.total > 100, `${what}: the load ran (${result.total} requests)`);
}

/** Waits until every process of the old manager is gone. */
async function allGone(pids: number[]): Promise<void> {
  await waitFor('the old manager and its workers to exit', () => (pids.some(alive) ? null : true), 10_000);
}

test('Type=notify: hypnode upgrade onto another Node under load fails no request; MainPID moves once, no restart; reload, restart and stop work after', { skip }, async (t) => {
  const sb = await startUserManager(t);
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-sdrun-');
  const node = otherNode(t);
  const made = await runCli(['unit', app, '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--probation', '1', '--out', sb.unitDir]);
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);
  const start = await sb.systemctl('start', SERVICE);
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  const before = await sb.show(SERVICE, SHOW);
  const old = await status(app, runtime);
  assert.equal(String(old.pid), before.MainPID);

  // A broken Node first: the command fails, systemd sees nothing but a reload that ended.
  const broken = await runCli(['upgrade', app, '--runtime-dir', runtime, '--node', '/nonexistent/node']);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /cannot run \/nonexistent\/node/);
  const kept = await sb.show(SERVICE, SHOW);
  assert.deepEqual([kept.MainPID, kept.NRestarts, kept.ActiveState], [before.MainPID, '0', 'active']);
  assert.match(kept.StatusText!, /last upgrade .* FAILED/);

  const load = startLoad({ port, durationMs: 60_000, maxRequests: 200_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const up = await runCli(['upgrade', app, '--runtime-dir', runtime, '--node', node]);
  assert.equal(up.code, 0, `${up.stderr}\n${sb.managerLog()}`);
  t.diagnostic(up.stdout);
  const after = await sb.show(SERVICE, SHOW);
  const now = await status(app, runtime);
  assert.equal(after.MainPID, String(now.pid), 'systemd knows the new manager as the main process');
  assert.notEqual(after.MainPID, before.MainPID);
  assert.deepEqual([after.NRestarts, after.ActiveState, after.SubState], ['0', 'active', 'running']);
  assert.equal(now.node, nodeVersion(node));
  await allGone([old.pid, ...old.workers.map((w) => w.pid)]);

  // The new manager is the unit's, for everything systemd does next.
  writeFileSync(join(dir, 'version.txt'), '3\n');
  const reload = await sb.systemctl('reload', SERVICE);
  assert.equal(reload.code, 0, reload.stderr);
  assert.equal((await sb.show(SERVICE, ['MainPID'])).MainPID, after.MainPID);
  const restart = await sb.systemctl('restart', SERVICE);
  assert.equal(restart.code, 0, restart.stderr);
  const result = await load.stop();
  assertNoFailures(result, 'upgrade, reload and restart');
  for (const v of ['1', '2', '3']) assert.ok(result.versions[v], `version ${v} answered: ${JSON.stringify(result.versions)}`);
  const restarted = await sb.show(SERVICE, [...SHOW, 'NFileDescriptorStore']);
  assert.notEqual(restarted.MainPID, after.MainPID);
  assert.deepEqual([restarted.NRestarts, restarted.ActiveState], ['0', 'active']);
  assert.equal((await get(port)).status, 200);
  const stop = await sb.systemctl('stop', SERVICE);
  assert.equal(stop.code, 0, stop.stderr);
  const stopped = await sb.show(SERVICE, ['ActiveState', 'Result']);
  assert.deepEqual([stopped.ActiveState, stopped.Result], ['inactive', 'success'], 'a clean stop: the new manager was systemd\'s own child, not SIGKILLed');
  assert.doesNotMatch(sb.managerLog(), /Supervising process \d+ which is not our child/);
  assert.doesNotMatch(sb.managerLog(), /reception only permitted for main PID/, 'the new manager said nothing to systemd before it was the main process');
});

const sd254 = cachedSystemd254();
const skip254 = skip || (sd254 ? false : 'systemd 254 is not cached (npm test fetches it from Debian\'s bookworm-backports; see tools/systemd-backports.ts)');

test('systemd 254, Type=notify-reload: hypnode upgrade under load fails no request; the unit ends its reload, MainPID moves once; SIGHUP reloads reach the new manager', { skip: skip254 }, async (t) => {
  const sb = await startUserManager(t, { systemdRoot: sd254! });
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-sdrun-');
  const node = otherNode(t);
  const made = await runCli(['unit', app, '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--probation', '1']);
  assert.equal(made.code, 0, made.stderr);
  await sb.writeUnit(SERVICE, made.stdout.replace(/^Type=notify$/m, 'Type=notify-reload').replace(/^ExecReload=.*$/m, ''));
  const start = await sb.systemctl('start', SERVICE);
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  assert.match((await sb.show('', ['Version'])).Version!, /^254\b/, 'systemd 254 runs');
  const before = await sb.show(SERVICE, [...SHOW, 'Type']);
  assert.equal(before.Type, 'notify-reload');
  const old = await status(app, runtime);

  const load = startLoad({ port, durationMs: 60_000, maxRequests: 200_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const up = await runCli(['upgrade', app, '--runtime-dir', runtime, '--node', node]);
  assert.equal(up.code, 0, `${up.stderr}\n${sb.managerLog()}`);
  const after = await sb.waitFor(SERVICE, SHOW, (p) => p.ActiveState === 'active', 10_000);
  const now = await status(app, runtime);
  assert.equal(after.MainPID, String(now.pid));
  assert.deepEqual([after.NRestarts, after.SubState], ['0', 'running']);
  await allGone([old.pid, ...old.workers.map((w) => w.pid)]);

  writeFileSync(join(dir, 'version.txt'), '3\n');
  const reload = await sb.systemctl('reload', SERVICE);
  assert.equal(reload.code, 0, reload.stderr);
  assert.equal((await get(port)).version, '3', 'systemctl reload (SIGHUP to the main process) reached the new manager, and waited for it');
  const result = await load.stop();
  assertNoFailures(result, 'upgrade and reload');
  const stop = await sb.systemctl('stop', SERVICE);
  assert.equal(stop.code, 0, stop.stderr);
  const stopped = await sb.show(SERVICE, ['ActiveState', 'Result']);
  assert.deepEqual([stopped.ActiveState, stopped.Result], ['inactive', 'success']);
  assert.doesNotMatch(sb.managerLog(), /reception only permitted for main PID|Reload operation timed out/);
});

test('Type=forking with --daemon and PIDFile=: ExecReload=hypnode upgrade returns once the PID file names the new manager; no restart', { skip }, async (t) => {
  const sb = await startUserManager(t);
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-sdrun-');
  const pidFile = join(runtime, 'app.pid');
  const hypnode = `${process.execPath} ${CLI}`;
  const flags = `--runtime-dir ${runtime}`;
  await sb.writeUnit(SERVICE, `[Service]
Type=forking
PIDFile=${pidFile}
Environment=PORT=${port}
ExecStart=${hypnode} start ${app} --workers 2 --probation 1 --pid-file ${pidFile} ${flags} --daemon --log-file ${join(runtime, 'app.log')}
ExecReload=${hypnode} upgrade ${app} ${flags}
KillMode=mixed
TimeoutStopSec=20
`);
  const start = await sb.systemctl('start', SERVICE);
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  const before = await sb.show(SERVICE, SHOW);
  const old = await status(app, runtime);
  assert.equal(before.MainPID, String(old.pid));

  const load = startLoad({ port, durationMs: 60_000, maxRequests: 200_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const reload = await sb.systemctl('reload', SERVICE);
  assert.equal(reload.code, 0, `${reload.stderr}\n${readFileSync(join(runtime, 'app.log'), 'utf8')}`);
  await new Promise((r) => setTimeout(r, 300));
  const result = await load.stop();
  assertNoFailures(result, 'the upgrade');
  const after = await sb.show(SERVICE, SHOW);
  const now = await status(app, runtime);
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(now.pid));
  assert.equal(after.MainPID, String(now.pid), 'systemd read the PID file when ExecReload= ended');
  assert.deepEqual([after.NRestarts, after.ActiveState, after.SubState], ['0', 'active', 'running']);
  await allGone([old.pid, ...old.workers.map((w) => w.pid)]);

  const stop = await sb.systemctl('stop', SERVICE);
  assert.equal(stop.code, 0, stop.stderr);
  const stopped = await sb.show(SERVICE, ['ActiveState', 'Result']);
  assert.deepEqual([stopped.ActiveState, stopped.Result], ['inactive', 'success']);
  assert.ok(!alive(now.pid));
});
