import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { alive, exampleApp, freePort, runCli, tempDir, waitFor } from './support/hypnode.js';

// Issue #3, points 6 and 7: a unit systemd accepts as it is, and --daemon for init systems
// without sd_notify.

const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;

test('hypnode unit prints a service and a socket unit that systemd-analyze verify accepts without a warning', { skip: analyze ? false : 'systemd-analyze is not installed' }, async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const out = tempDir(t);
  const r = await runCli(['unit', app, '--workers', '3', '--graceful-timeout', '20', '--name', 'web', '--user', 'root', '--socket', '127.0.0.1:8080', '--out', out], { env: { HYPNODE_RUNTIME_DIR: dir } });
  assert.equal(r.code, 0, r.stderr);
  const service = readFileSync(join(out, 'hypnode-web.service'), 'utf8');
  assert.match(service, /^Type=notify$/m);
  // The instance's identity (name, runtime dir from the environment) is on both lines.
  assert.match(service, /^ExecStart=.* start .*app\.js --workers=3 --graceful-timeout=20 --name=web --runtime-dir=\S+ --pid-file=%t\/hypnode\/hypnode-web\/manager\.pid$/m);
  assert.match(service, /^ExecReload=.* reload .*app\.js --name=web --runtime-dir=\S+$/m);
  assert.match(service, /^TimeoutStopSec=35$/m, 'above the graceful timeout');
  assert.match(service, /^KillMode=mixed$/m);
  assert.match(readFileSync(join(out, 'hypnode-web.socket'), 'utf8'), /^ListenStream=127\.0\.0\.1:8080$/m);
  const v = spawnSync('systemd-analyze', ['verify', join(out, 'hypnode-web.service'), join(out, 'hypnode-web.socket')], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stderr.trim(), '', `systemd-analyze warned: ${v.stderr}`);
});

test('start --daemon returns only once the first generation serves, with the manager PID in the PID file', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const pidFile = join(dir, 'app.pid');
  const env = { HYPNODE_RUNTIME_DIR: dir, PORT: String(port), BOOT_DELAY_MS: '500' };
  t.after(async () => {
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8'));
      if (alive(pid)) process.kill(pid, 'SIGTERM');
      await waitFor('the daemon to exit', () => !alive(pid)).catch(() => process.kill(pid, 'SIGKILL'));
    }
  });
  const r = await runCli(['start', app, '--workers', '2', '--daemon', '--pid-file', pidFile], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: --daemon without --log-file: the output of the manager and the app goes nowhere/);
  // Serving the moment the command returned: no retry, no wait.
  const status = await new Promise<number>((resolve, reject) => http.get({ host: '127.0.0.1', port, agent: false }, (res) => (res.resume(), resolve(res.statusCode!))).on('error', reject));
  assert.equal(status, 200);
  const pid = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(alive(pid));
  const s = JSON.parse((await runCli(['status', app, '--json'], { env })).stdout);
  assert.equal(s.pid, pid, 'the PID file holds the manager');

  writeFileSync(join(dir, 'version.txt'), '2\n');
  assert.equal((await runCli(['reload', app], { env })).code, 0);
  assert.equal(Number(readFileSync(pidFile, 'utf8')), pid, 'a reload never changes the PID file');
  assert.equal((await runCli(['stop', app], { env })).code, 0);
  await waitFor('the manager to exit', () => !alive(pid));
  assert.equal(existsSync(pidFile), false);
});

test('start --daemon of code that cannot start fails with a non-zero exit', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'app.js'), "throw new Error('cannot boot');\n");
  const r = await runCli(['start', join(dir, 'app.js'), '--workers', '1', '--daemon', '--ready-timeout', '2'], { env: { HYPNODE_RUNTIME_DIR: dir } });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot boot/);
  assert.match(r.stderr, /did not serve within 2s/);
});

test('start --daemon passes every argument after -- to the app untouched, even those that look like its own', async (t) => {
  const dir = tempDir(t);
  const seen = join(dir, 'argv.json');
  writeFileSync(
    join(dir, 'app.mjs'),
    `import http from 'node:http';
import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(seen)}, JSON.stringify(process.argv.slice(2)));
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  const env = { HYPNODE_RUNTIME_DIR: dir, PORT: String(await freePort()) };
  const app = join(dir, 'app.mjs');
  // Stopped here, not in an after hook: those run after tempDir's, which removes the runtime
  // directory, and with it the way to the daemon.
  try {
    const r = await runCli(['start', app, '--workers', '1', '--daemon', '--log-file', join(dir, 'a.log'), '--', '--log-file', 'b.log', '--daemon'], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(readFileSync(seen, 'utf8')), ['--log-file', 'b.log', '--daemon']);
    assert.match(readFileSync(join(dir, 'a.log'), 'utf8'), /^\[hypnode\] generation 1 serves/m, "hypnode's own --log-file is hypnode's");
  } finally {
    const stop = await runCli(['stop', app], { env });
    assert.equal(stop.code, 0, stop.stderr);
  }
});
