import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { nodeBinary } from '../tools/node-lines.js';
import { startLoad } from '../tools/load.js';
import { freePort } from './support/hypnode.js';
import { get } from './support/http.js';
import { copyRuntime, type Runnable } from './support/readable.js';
import { startUserManager, systemdSkipReason } from './support/systemd.js';

// Issue #18: the unit `hypnode unit` writes runs the app as an unprivileged user in a sandbox
// systemd rates OK, and the app (and hypnode) still work inside it, on Node 20 and on Node 24.
// The sandbox's user manager runs as root and applies every directive of the unit; the one it
// cannot honour fully is LimitNOFILE=, whose hard limit it cannot raise above its own.

const USER = 'www-data';
const hasUser = spawnSync('getent', ['passwd', USER]).status === 0;
const skip = systemdSkipReason() ?? (hasUser ? false : `no user ${USER} to run the service as`);
const analyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const SERVICE = 'hypnode-app.service';

/** Reads its files, writes where it is allowed to (DATA_DIR) and says what happens elsewhere. */
const APP = `
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
const here = new URL('.', import.meta.url).pathname;
const version = readFileSync(here + 'version.txt', 'utf8').trim();
http.createServer((req, res) => {
  res.setHeader('x-version', version);
  res.setHeader('x-pid', String(process.pid));
  if (req.url === '/write') {
    const tried = {};
    for (const [name, path] of [['data', process.env.DATA_DIR + '/w.txt'], ['app', here + 'w.txt'], ['etc', '/etc/hypnode-w.txt'], ['tmp', '/tmp/w.txt']]) {
      try { writeFileSync(path, 'x'); tried[name] = 'ok'; } catch (e) { tried[name] = e.code; }
    }
    return void res.end(JSON.stringify(tried));
  }
  if (req.url === '/slow') return void setTimeout(() => res.end(version), 300);
  res.end(version);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

interface Deployed {
  base: string;
  app: string;
  data: string;
  port: number;
  hypnode: Runnable;
  unit: string;
}

/**
 * The app and a copy of hypnode under /var/lib (not /tmp, not a home: the unit's private /tmp
 * and ProtectHome= would hide them), the app's files root's, its data directory the user's.
 */
function prepare(t: TestContext, node: string, port: number): Deployed {
  const base = mkdtempSync('/var/lib/hypnode-hardened-');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  chmodSync(base, 0o755);
  const runtime = join(base, 'runtime');
  mkdirSync(runtime);
  const hidden = /^\/(root|home|tmp)\//.test(node);
  const hypnode = copyRuntime(runtime, hidden ? null : node, node);
  const appDir = join(base, 'app');
  mkdirSync(appDir, { mode: 0o755 });
  writeFileSync(join(appDir, 'app.mjs'), APP);
  writeFileSync(join(appDir, 'version.txt'), '1\n');
  const data = join(base, 'data');
  mkdirSync(data);
  const { uid, gid } = idsOf(USER);
  chownSync(data, uid, gid);
  return { base, app: join(appDir, 'app.mjs'), data, port, hypnode, unit: '' };
}

function idsOf(user: string): { uid: number; gid: number } {
  const [, , uid, gid] = spawnSync('getent', ['passwd', user], { encoding: 'utf8' }).stdout.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

function cli(d: Deployed, args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof spawnSync> {
  // Run in the app's directory, as a deploy does: the unit's working directory is where this ran.
  return spawnSync(d.hypnode.node, [d.hypnode.cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, cwd: dirname(d.app) });
}

async function writeUnit(d: Deployed, out: string): Promise<string> {
  const r = cli(d, ['unit', d.app, '--workers', '2', '--user', USER, '--writable', d.data, '--env', `PORT=${d.port}`, '--env', `DATA_DIR=${d.data}`, '--out', out]);
  assert.equal(r.status, 0, String(r.stderr));
  return readFileSync(join(out, SERVICE), 'utf8');
}

test('the generated unit: an unprivileged user, a sandbox systemd-analyze rates OK (2.5 or lower), verify without a warning', { skip: analyze && process.getuid?.() === 0 && hasUser ? false : 'needs root, systemd-analyze and a www-data user' }, async (t) => {
  const d = prepare(t, process.execPath, 8080);
  const out = mkdtempSync(join(d.base, 'units-'));
  const unit = await writeUnit(d, out);
  assert.match(unit, new RegExp(`^User=${USER}$`, 'm'));
  assert.match(unit, /^RuntimeDirectory=hypnode\/hypnode-app$/m);
  assert.match(unit, /^ProtectSystem=strict$/m);
  assert.match(unit, new RegExp(`^ReadWritePaths=${d.data}$`, 'm'));
  assert.match(unit, /^SystemCallFilter=@system-service @pkey$/m);
  assert.match(unit, /^# MemoryDenyWriteExecute= is left out: V8/m, 'what is left out says why');
  const verify = spawnSync('systemd-analyze', ['verify', join(out, SERVICE)], { encoding: 'utf8' });
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr.trim(), '', `systemd-analyze verify warned: ${verify.stderr}`);
  const security = spawnSync('systemd-analyze', ['security', '--offline=true', join(out, SERVICE)], { encoding: 'utf8' });
  const score = /Overall exposure level for .*: (\d+\.\d)/.exec(security.stdout);
  assert.ok(score, security.stdout + security.stderr);
  t.diagnostic(`systemd-analyze security: ${score[1]}`);
  assert.ok(Number(score[1]) <= 2.5, `exposure ${score[1]} is above 2.5:\n${security.stdout}`);

  // Root, by default, is refused: the service user must be named.
  const asRoot = cli(d, ['unit', d.app]);
  assert.equal(asRoot.status, 2);
  assert.match(String(asRoot.stderr), /belongs to root: name the user the service runs as with --user NAME/);
});

async function hardenedRun(t: TestContext, node: string): Promise<void> {
  const sb = await startUserManager(t);
  const port = await freePort();
  const d = prepare(t, node, port);
  await writeUnit(d, sb.unitDir);
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);

  const start = await sb.systemctl('start', SERVICE);
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  assert.equal((await get(port)).version, '1');
  const { MainPID } = await sb.show(SERVICE, ['MainPID']);
  const proc = readFileSync(`/proc/${MainPID}/status`, 'utf8');
  assert.match(proc, new RegExp(`^Uid:\\s+${idsOf(USER).uid}\\s`, 'm'), `the manager runs as ${USER}`);
  assert.match(proc, /^NoNewPrivs:\s+1$/m);
  assert.match(proc, /^Seccomp:\s+2$/m, 'a system call filter is on');
  assert.match(proc, /^CapEff:\s+0+$/m, 'no capability');

  // Writes: its data directory, yes; beside its code, in /etc: read-only; /tmp: its own.
  assert.deepEqual(JSON.parse((await get(port, '/write')).body), { data: 'ok', app: 'EROFS', etc: 'EROFS', tmp: 'ok' });
  assert.equal(spawnSync('test', ['-e', '/tmp/w.txt']).status, 1, "the service's /tmp is not the machine's");

  // From an ordinary shell, root and the service user find the instance without a flag.
  const env = { XDG_RUNTIME_DIR: sb.env.XDG_RUNTIME_DIR! };
  const byRoot = cli(d, ['status', d.app, '--json'], env);
  assert.equal(byRoot.status, 0, String(byRoot.stderr));
  assert.equal(JSON.parse(String(byRoot.stdout)).pid, Number(MainPID));
  const byUser = spawnSync('runuser', ['-u', USER, '--', 'env', `XDG_RUNTIME_DIR=${env.XDG_RUNTIME_DIR}`, d.hypnode.node, d.hypnode.cli, 'status', d.app], { encoding: 'utf8', cwd: '/' });
  assert.equal(byUser.status, 0, byUser.stderr);
  assert.match(byUser.stdout, /serving/);

  // Reloads under load fail nothing; a broken one fails `systemctl reload`, the old code serving.
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 300_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  for (const version of ['2', '3']) {
    writeFileSync(join(d.base, 'app', 'version.txt'), `${version}\n`);
    const r = await sb.systemctl('reload', SERVICE);
    assert.equal(r.code, 0, r.stderr + sb.managerLog());
  }
  const good = readFileSync(d.app, 'utf8');
  writeFileSync(d.app, `throw new Error('broken release');\n${good}`);
  assert.notEqual((await sb.systemctl('reload', SERVICE)).code, 0, 'a broken reload fails systemctl reload');
  const result = await load.stop();
  assert.deepEqual(result.failures, {}, `${result.failed} of ${result.total} requests failed`);
  assert.ok(result.versions['3'], JSON.stringify(result.versions));
  assert.equal((await get(port)).version, '3', 'the old code serves on');
  writeFileSync(d.app, good);
  const byShell = cli(d, ['reload', d.app], env);
  assert.equal(byShell.status, 0, String(byShell.stderr));

  const stop = await sb.systemctl('stop', SERVICE);
  assert.equal(stop.code, 0, stop.stderr);
  const stopped = await sb.show(SERVICE, ['ActiveState', 'Result', 'NRestarts']);
  assert.deepEqual([stopped.ActiveState, stopped.Result, stopped.NRestarts], ['inactive', 'success', '0']);
}

test(`the hardened unit runs for real on this Node (${process.version}): start, writes only where allowed, reloads under load, a broken reload refused, stop`, { skip }, (t) =>
  hardenedRun(t, process.execPath));

test('the hardened unit runs for real on Node 24 too', { skip: skip || (process.versions.node.startsWith('24.') && 'this Node is 24 already') }, async (t) => {
  await hardenedRun(t, nodeBinary(24));
});
