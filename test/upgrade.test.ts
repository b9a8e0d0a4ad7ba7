import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startLoad } from '../tools/load.js';
import { cachedNode } from '../tools/node-lines.js';
import { alive, exampleApp, freePort, Hypnode, managersOf, tempDir, waitFor } from './support/hypnode.js';
import { copyRuntime, type Runnable } from './support/readable.js';

// Issue #15 outside systemd: `hypnode upgrade` replaces the manager itself (the hypnode code on
// disk, on another Node) under load and fails no request; a new manager that cannot start fails
// the command with its error and leaves the old one serving, untouched. The manager runs from a
// copy of the build, so that the test can change "the code on disk" as an upgrade of hypnode does.

/** Another Node line, when the suite has fetched it (the matrix does), else this one. */
const OTHER_NODE = process.versions.node.startsWith('24.') ? (cachedNode(22) ?? process.execPath) : (cachedNode(24) ?? process.execPath);

function startFrom(t: TestContext, runtime: Runnable, node: string, app: string, args: string[], env: Record<string, string>): Hypnode {
  const runDir = tempDir(t, 'hypnode-run-');
  const fullEnv = { HYPNODE_RUNTIME_DIR: runDir, ...env };
  const proc = spawn(node, [runtime.cli, 'start', app, ...args], { env: { ...process.env, ...fullEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Hypnode(proc, app, fullEnv);
}

/** Every manager the test saw (old and new), and their workers, are ended after it. */
function cleanupAll(t: TestContext, h: Hypnode, managers: Set<number>): void {
  t.after(async () => {
    // A new manager the test did not get to see (it failed midway) is found in /proc: its control
    // socket and the copied CLI are gone by now (the temp dirs' hooks run first).
    for (const pid of managersOf(h.app)) managers.add(pid);
    for (const pid of managers) if (pid !== h.pid && alive(pid)) process.kill(pid, 'SIGTERM');
    await h.cleanup();
    await waitFor('the managers to exit', () => ([...managers].every((p) => !alive(p)) ? true : null), 10_000).catch(() => {});
    for (const pid of [...managers, ...h.seenPids]) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
}

test('an upgrade to another Node and a newer hypnode build under load fails no request; the new manager takes the PID file, sockets and control socket', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const runtime = copyRuntime(tempDir(t, 'hypnode-copy-'), process.execPath);
  const pkg = join(runtime.cli, '..', '..', '..', '..', 'package.json');
  const port = await freePort();
  const pidFile = join(tempDir(t, 'hypnode-pid-'), 'app.pid');
  const admin = await freePort();
  const h = startFrom(t, runtime, process.execPath, app, ['--workers', '2', '--pid-file', pidFile, '--probation', '1', '--admin', `127.0.0.1:${admin}`], { PORT: String(port) });
  const managers = new Set([h.pid]);
  cleanupAll(t, h, managers);
  const before = await h.waitServing();
  assert.equal(before.lastUpgrade, null);
  // A load balancer's health check throughout: the admin socket is handed over, never closed.
  const checks: number[] = [];
  let checking = true;
  const checker = (async () => {
    while (checking) {
      checks.push(await fetch(`http://127.0.0.1:${admin}/healthz`).then((r) => r.status, () => 0));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();

  // A newer hypnode on disk: the same code under another version number.
  const manifest = JSON.parse(readFileSync(pkg, 'utf8')) as { version: string };
  writeFileSync(pkg, JSON.stringify({ ...manifest, version: `${manifest.version}-next` }));
  const load = startLoad({ port, durationMs: 30_000, maxRequests: 100_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const r = await h.cli('upgrade', '--node', OTHER_NODE);
  const upgradedAt = Date.now();
  await new Promise((r) => setTimeout(r, 500));
  const result = await load.stop();
  checking = false;
  await checker;
  assert.equal(r.code, 0, `upgrade failed: ${r.stderr}\n${h.output}`);
  assert.match(r.stdout, /upgraded: manager \d+ → \d+/);
  assert.ok(checks.length > 10, `the health check ran (${checks.length})`);
  assert.deepEqual(checks.filter((c) => c !== 200), [], '/healthz answered 200 throughout the upgrade');
  t.diagnostic(r.stdout);

  assert.deepEqual(result.failures, {}, 'no request may fail during an upgrade');
  assert.ok(result.total > 200, `the load ran (${result.total} requests)`);
  assert.ok(result.versions['1'] && result.versions['2'], `old and new code answered: ${JSON.stringify(result.versions)}`);
  const stale = result.samples.filter((s) => s.start > upgradedAt && s.version === '1');
  assert.equal(stale.length, 0, 'once the upgrade returned, the old code answers nothing');

  // The old manager has exited (the command waits for it); the foreground job sees it end with 0.
  assert.equal(await h.exited, 0, h.output);
  const after = await h.status();
  managers.add(after.pid);
  for (const w of before.workers) assert.ok(!alive(w.pid), `old worker ${w.pid} is gone`);
  assert.notEqual(after.pid, h.pid);
  assert.equal(after.hypnode, `${manifest.version}-next`);
  assert.equal(after.node, execVersion(OTHER_NODE));
  assert.equal(after.nodePath, OTHER_NODE);
  assert.equal(after.generation, (before.generation ?? 0) + 1, 'generations count on');
  assert.ok(after.lastUpgrade?.ok && after.lastUpgrade.from.pid === h.pid, JSON.stringify(after.lastUpgrade));
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(after.pid), 'the PID file names the new manager');
  assert.match(h.output, /taking over from manager/);
  const viaAdmin = (await (await fetch(`http://127.0.0.1:${admin}/status`)).json()) as { pid: number };
  assert.equal(viaAdmin.pid, after.pid, 'the new manager answers on the admin socket');

  // The new manager is a manager like any other: it reloads, and stops cleanly.
  writeFileSync(join(dir, 'version.txt'), '3\n');
  const reload = await h.cli('reload');
  assert.equal(reload.code, 0, reload.stderr);
  const stop = await h.cli('stop');
  assert.equal(stop.code, 0, stop.stderr);
  await waitFor('the new manager to exit', () => (alive(after.pid) ? null : true));
  assert.ok(!existsSync(pidFile), 'the new manager removed its PID file');
});

test('an upgrade that cannot start (no such Node, a build that throws, new workers that crash) fails with the error and leaves the old manager serving; USR2 upgrades too', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const runtime = copyRuntime(tempDir(t, 'hypnode-copy-'), process.execPath);
  const port = await freePort();
  const pidFile = join(tempDir(t, 'hypnode-pid-'), 'app.pid');
  const h = startFrom(t, runtime, process.execPath, app, ['--workers', '2', '--pid-file', pidFile, '--ready-timeout', '10'], { PORT: String(port) });
  const managers = new Set([h.pid]);
  cleanupAll(t, h, managers);
  const before = await h.waitServing();
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 100_000, keepAliveClients: 2, newConnectionClients: 2 });

  const missing = await h.cli('upgrade', '--node', '/nonexistent/bin/node');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /upgrade failed: cannot run \/nonexistent\/bin\/node: .*ENOENT.*; the old manager serves on/);

  const main = readFileSync(runtime.cli, 'utf8');
  writeFileSync(runtime.cli, main.replace(/^(#!.*\n)/, "$1throw new Error('broken hypnode build');\n"));
  const broken = await h.cli('upgrade');
  writeFileSync(runtime.cli, main);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /upgrade failed: .*--version` failed/);
  assert.match(broken.stderr, /broken hypnode build/, 'the new build\'s own error is shown');

  const good = readFileSync(app, 'utf8');
  writeFileSync(app, `throw new Error('config missing (broken release)');\n${good}`);
  const crash = await h.cli('upgrade');
  writeFileSync(app, good);
  assert.equal(crash.code, 1);
  assert.match(crash.stderr, /config missing \(broken release\)/);

  const result = await load.stop();
  assert.deepEqual(result.failures, {}, 'no request may fail while upgrades fail');
  const after = await h.status();
  assert.equal(after.pid, h.pid, 'the old manager serves on');
  assert.equal(after.generation, before.generation, 'its generation untouched');
  assert.deepEqual(after.workers.map((w) => w.pid).sort(), before.workers.map((w) => w.pid).sort(), 'its workers untouched');
  assert.equal(after.lastUpgrade?.ok, false);
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(h.pid));
  assert.ok(!/taking over from manager/.test(h.output) || /the upgrade failed: this new manager exits/.test(h.output), h.output);

  // And a good upgrade still works afterwards, asked for by signal (USR2) this time.
  process.kill(h.pid, 'SIGUSR2');
  const upgraded = await waitFor('the new manager to answer', async () => {
    const s = await h.status().catch(() => null);
    return s && s.pid !== h.pid ? s : null;
  }, 30_000);
  managers.add(upgraded.pid);
  assert.ok(upgraded.lastUpgrade?.ok, JSON.stringify(upgraded.lastUpgrade));
  assert.equal(await h.exited, 0, 'the old manager exited once the new one served');
});

function execVersion(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
}
