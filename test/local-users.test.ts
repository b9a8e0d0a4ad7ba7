import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, lstatSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { instancePaths } from '../src/control/paths.js';
import type { Status } from '../src/protocol/status.js';
import { isRoot, runAs } from './support/faults.js';
import { alive, freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { runnableByOthers } from './support/readable.js';

// Issue #23: other local users are strangers. Each door is tried as `nobody` (and `daemon`, uid
// 1, as the victim where the victim must not be root): --admin's /status, a squatted runtime
// directory with a fake manager in it, the old start lock's name, and secret files others may read.

const NOBODY = 65534;
const DAEMON = 1;
const asRoot = { skip: !isRoot && 'needs root, to act as other users' };

/** `node -e SCRIPT ARGS` as `uid`, its stdout collected; killed after the test. */
function nodeAs(t: TestContext, uid: number, script: string, args: string[]): ChildProcess & { out: () => string } {
  const proc = spawn(runnableByOthers().node, ['-e', script, ...args], { uid, gid: uid, cwd: '/', stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  t.after(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return Object.assign(proc, { out: () => out });
}

/** A fake manager: answers any request as a successful reload would, and says what it saw on stdout. */
const FAKE_MANAGER = `
const net = require('node:net');
const fs = require('node:fs');
const [path] = process.argv.slice(1);
const done = { ok: true, result: { ok: true, generation: 7, startedAt: 0, readyAt: 0, servingAt: 0, drainedAt: 0, doneAt: 0 } };
net.createServer((c) => {
  console.log('connection');
  c.on('data', () => { console.log('request'); c.end(JSON.stringify(done) + '\\n'); });
  c.on('error', () => {});
}).listen(path, () => { fs.chmodSync(path, 0o777); console.log('listening'); });
`;

test('--admin /status tells any local user counts and states, never the app\'s output or an env file\'s secret; the control socket keeps the full status', asRoot, async (t) => {
  const dir = tempDir(t, 'hypnode-app-');
  chmodSync(dir, 0o755);
  const app = join(dir, 'app.mjs');
  writeFileSync(app, `import http from 'node:http';
import { existsSync } from 'node:fs';
if (existsSync(new URL('./crash', import.meta.url))) {
  console.error('cannot connect to ' + process.env.DATABASE_URL);
  process.exit(1);
}
http.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1');
`);
  const envFile = join(dir, 'app.env');
  writeFileSync(envFile, 'DATABASE_URL=postgres://app:s3cretPassw0rd@db/app\n', { mode: 0o600 });
  const admin = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1', '--env-file', envFile, '--admin', `127.0.0.1:${admin}`], { env: { PORT: String(await freePort()) } });
  const asNobody = async (): Promise<string> => {
    const fetcher = nodeAs(t, NOBODY, `fetch(process.argv[1]).then((r) => r.text()).then((b) => process.stdout.write(b))`, [`http://127.0.0.1:${admin}/status`]);
    await new Promise((resolve) => fetcher.once('exit', resolve));
    assert.equal(fetcher.exitCode, 0);
    return fetcher.out();
  };

  // The new code crashes, printing the password: the operator sees it, nobody does not.
  writeFileSync(join(dir, 'crash'), '');
  const crashed = await h.cli('reload');
  assert.equal(crashed.code, 1);
  assert.match(crashed.stderr, /cannot connect to postgres:\/\/app:s3cretPassw0rd@db\/app/);
  const full = JSON.stringify(await h.status());
  assert.match(full, /s3cretPassw0rd/, 'the control socket keeps the full status: the output of the new code');
  const summary = await asNobody();
  assert.doesNotMatch(summary, /s3cret|DATABASE_URL|cannot connect|app\.mjs|"output"|"error"|"message"/);
  const s = JSON.parse(summary) as Status;
  assert.equal(s.pid, h.pid);
  assert.equal(s.state, 'serving');
  assert.equal(s.workers.length, 1);
  assert.equal(s.workers[0]!.state, 'ready');
  assert.deepEqual(s.generations.map((g) => [g.id, g.state]), [[1, 'serving']]);
  assert.equal(s.lastReload?.ok, false);
  assert.equal(s.lastReload?.generation, 1, 'the generation that serves on');

  // A private key pasted into the env file: the reload's error names the line, never quotes it.
  rmSync(join(dir, 'crash'));
  writeFileSync(envFile, 'DATABASE_URL=postgres://app:s3cretPassw0rd@db/app\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCprivateKEY\n');
  const broken = await h.cli('reload');
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /env file .*app\.env, line 2: expected KEY=VALUE, found no "="/);
  const error = (await h.status()).lastReload;
  assert.ok(error && !error.ok);
  assert.doesNotMatch(`${error.error}${error.output}`, /MIIEvQ|privateKEY|s3cret/);
  assert.doesNotMatch(await asNobody(), /MIIEvQ|privateKEY|s3cret|app\.env/);
});

test('a runtime directory another user made first, with a fake manager in it: the CLI sends nothing and says why', asRoot, async (t) => {
  // Like /tmp: anyone may make a directory there. The victim, uid 1, has no XDG_RUNTIME_DIR (a cron job).
  const tmp = tempDir(t, 'hypnode-tmp-');
  chmodSync(tmp, 0o1777);
  const app = join(tempDir(t, 'hypnode-app-'), 'app.mjs');
  const squatted = join(tmp, `hypnode-${DAEMON}`);
  const fake = nodeAs(t, NOBODY, `require('node:fs').mkdirSync(process.argv[2], { mode: 0o755 }); ${FAKE_MANAGER}`, [instancePaths(app, null, squatted).socket, squatted]);
  await waitFor('the fake manager to listen', () => fake.out().includes('listening'));
  assert.equal(lstatSync(squatted).uid, NOBODY);

  const env = { TMPDIR: tmp, XDG_RUNTIME_DIR: '', HYPNODE_RUNTIME_DIR: '' };
  for (const cmd of ['reload', 'status', 'stop']) {
    const r = await runAs('daemon', [cmd, app], env);
    assert.equal(r.code, 1, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(
      r.stderr,
      new RegExp(`^hypnode: runtime directory ${squatted} belongs to uid ${NOBODY}, not to you \\(uid ${DAEMON}\\) or root: another user may have made it to pose as the manager, so nothing was sent; remove it \\(as root: rm -r ${squatted}\\), or give the instance a runtime directory of your own \\(--runtime-dir, or XDG_RUNTIME_DIR\\)\\n$`),
    );
  }
  assert.equal(fake.out(), 'listening\n', 'the fake manager was never even connected to');

  // Open to others, even if it were the caller's: refused as well.
  chownSync(squatted, DAEMON, DAEMON);
  chmodSync(squatted, 0o777);
  const open = await runAs('daemon', ['reload', app], env);
  assert.equal(open.code, 1);
  assert.match(open.stderr, new RegExp(`^hypnode: runtime directory ${squatted} \\(owner uid ${DAEMON}\\) is writable by others \\(mode 777\\): whoever can write there can pose as the manager, so nothing was sent; if it is yours, make it 0700 \\(chmod go-w ${squatted}\\)`));
  assert.equal(fake.out(), 'listening\n');
});

test("a manager that runs as another user is refused by its credentials, even in the caller's own directory", asRoot, async (t) => {
  const app = join(tempDir(t, 'hypnode-app-'), 'app.mjs');
  const theirs = tempDir(t, 'hypnode-run-');
  chownSync(theirs, NOBODY, NOBODY);
  const fake = nodeAs(t, NOBODY, FAKE_MANAGER, [join(theirs, 'fake.sock')]);
  await waitFor('the fake manager to listen', () => fake.out().includes('listening'));
  // The socket turns up in a directory of the caller's own (what a mistaken chmod, or root, could do).
  const own = tempDir(t, 'hypnode-run-');
  chownSync(own, DAEMON, DAEMON);
  const socket = instancePaths(app, null, own).socket;
  renameSync(join(theirs, 'fake.sock'), socket);

  const r = await runAs('daemon', ['reload', app], { HYPNODE_RUNTIME_DIR: own });
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, new RegExp(`^hypnode: the manager at ${socket} runs as uid ${NOBODY}, not as you \\(uid ${DAEMON}\\), root or the owner of ${own}: another user may pose as the manager, so nothing was sent`));
  await waitFor('the fake manager to see the connection end', () => fake.out().includes('connection'));
  assert.doesNotMatch(fake.out(), /request/, 'no request was sent');
});

test('the start lock is a file only the instance\'s user can lock: the old abstract name taken by another user stops nothing; an upgrade hands it over', asRoot, async (t) => {
  const dir = tempDir(t, 'hypnode-app-');
  const app = join(dir, 'app.mjs');
  writeFileSync(app, `import http from 'node:http';\nhttp.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1');\n`);
  const runtime = tempDir(t, 'hypnode-run-');
  const paths = instancePaths(app, null, runtime);
  // What another user could bind before: the abstract name any user could compute.
  const squatter = nodeAs(t, NOBODY, `require('node:net').createServer().listen('\\0hypnode-' + process.argv[1], () => console.log('listening'))`, [
    createHash('sha256').update(paths.socket).digest('hex').slice(0, 32),
  ]);
  await waitFor('nobody to hold the old lock name', () => squatter.out().includes('listening'));

  const env = { PORT: String(await freePort()), HYPNODE_RUNTIME_DIR: runtime };
  const h = await startHypnode(t, app, ['--workers', '1'], { env });
  const lock = paths.socket.replace(/\.sock$/, '.lock');
  assert.deepEqual(readdirSync(runtime).sort(), [lock, paths.socket].map((p) => p.slice(runtime.length + 1)).sort());
  assert.equal(lstatSync(lock).mode & 0o777, 0o600);
  assert.equal(readFileSync(lock, 'utf8'), `${h.pid}\n`);
  const tryLock = spawnSync('runuser', ['-u', 'nobody', '--', runnableByOthers().node, '-e', `require('node:fs').openSync(process.argv[1], 'r+')`, lock], { encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(tryLock.status, 0);
  assert.match(tryLock.stderr, /EACCES/, 'nobody cannot even open it');

  // An upgrade hands the lock to the new manager: a second start still loses, to it.
  const up = await h.cli('upgrade');
  assert.equal(up.code, 0, up.stderr);
  const newPid = (await h.status()).pid;
  assert.notEqual(newPid, h.pid);
  assert.equal(readFileSync(lock, 'utf8'), `${newPid}\n`);
  const second = await startHypnode(t, app, ['--workers', '1'], { env, wait: false });
  await Promise.race([second.exited, new Promise((r) => setTimeout(r, 15_000))]);
  assert.equal(second.exitCode, 1, second.output);
  assert.match(second.output, new RegExp(`^hypnode: hypnode is already running or starting for .*app\\.mjs \\(manager pid ${newPid}\\)\\n$`));

  const stop = await h.cli('stop');
  assert.equal(stop.code, 0, stop.stderr);
  await waitFor('the new manager to exit', () => !alive(newPid), 15_000);
  assert.deepEqual(readdirSync(runtime), [], 'the lock file and the socket are removed on stop');
});

test('an env file or a config file other users may read: a warning at start, with the fix', asRoot, async (t) => {
  const dir = tempDir(t, 'hypnode-app-');
  chmodSync(dir, 0o755);
  const app = join(dir, 'app.mjs');
  writeFileSync(app, `import http from 'node:http';\nhttp.createServer((req, res) => res.end('ok\\n')).listen(Number(process.env.PORT), '127.0.0.1');\n`);
  const config = join(dir, 'hypnode.config.json');
  writeFileSync(config, '{"env": {"API_KEY": "k-123"}}\n', { mode: 0o644 });
  const open = join(dir, 'open.env');
  writeFileSync(open, 'DATABASE_URL=postgres://app:s3cret@db/app\n', { mode: 0o644 });
  const closed = join(dir, 'closed.env');
  writeFileSync(closed, 'OTHER=1\n', { mode: 0o600 });
  // As the warning says: nobody can read the one, not the other.
  const cat = (path: string) => spawnSync('runuser', ['-u', 'nobody', '--', 'cat', path], { encoding: 'utf8', timeout: 30_000 });
  assert.match(cat(open).stdout, /s3cret/);
  assert.notEqual(cat(closed).status, 0);

  const h = await startHypnode(t, app, ['--workers', '1', '--env-file', open, '--env-file', closed], { env: { PORT: String(await freePort()) } });
  const warnings = h.output.split('\n').filter((l) => /may be read/.test(l));
  assert.equal(warnings.length, 2, h.output);
  assert.match(warnings[0]!, new RegExp(`config file ${config} may be read by other users \\(mode 0644\\): it may hold secrets; make it its owner's alone: chmod 600 ${config}$`));
  assert.match(warnings[1]!, new RegExp(`env file ${open} may be read by other users \\(mode 0644\\): it may hold secrets; make it its owner's alone: chmod 600 ${open}$`));
  assert.doesNotMatch(h.output, /closed\.env/);
  // The manager's own group may read: a root:app 0640 file for User=app is the usual setup.
  chmodSync(open, 0o640);
  chmodSync(config, 0o600);
  const again = await startHypnode(t, app, ['--workers', '1', '--env-file', open], { env: { PORT: String(await freePort()) } });
  assert.doesNotMatch(again.output, /may be read/);
});
