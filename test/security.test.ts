import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { controlPaths, faultApp, get, isRoot, quickStatus, runAs, sleep } from './support/faults.js';
import { alive, freePort, Hypnode, runCli, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { CHECKOUT_INDEX, runnableByOthers } from './support/readable.js';

// Issue #5, access and files: only the user who started an instance, and root, may control it;
// the runtime directory, the control socket and the PID file cannot be hijacked, and what a
// crash leaves behind is told apart from a running manager.

const NOBODY = 65534;
const asRoot = { skip: !isRoot && 'needs root, to act as other users' };

/**
 * An app other users may read (the CLI resolves it), in a directory they may enter, importing
 * hypnode from where they can read it.
 */
function sharedApp(t: TestContext): { dir: string; app: string } {
  const fa = faultApp(t);
  chmodSync(fa.dir, 0o755);
  writeFileSync(fa.app, readFileSync(fa.app, 'utf8').replaceAll(CHECKOUT_INDEX, runnableByOthers().index));
  return fa;
}

/** `hypnode start` run as `uid`, as a service account would run it (from a copy it can read). */
async function startAs(t: TestContext, uid: number, app: string, args: string[], env: Record<string, string>): Promise<Hypnode> {
  const { node, cli } = runnableByOthers();
  // In the app's directory, as a unit's WorkingDirectory= would put it: the workers start in the
  // manager's, and the test's own (the checkout) may be closed to that user.
  const proc = spawn(node, [cli, 'start', app, ...args], { cwd: dirname(app), env: { ...process.env, ...env }, uid, gid: uid, stdio: ['ignore', 'pipe', 'pipe'] });
  const h = new Hypnode(proc, app, env);
  t.after(() => h.cleanup());
  await h.waitServing();
  return h;
}

/** Waits (boundedly) for a start that must fail, and returns its output. */
async function failedStart(h: Hypnode): Promise<string> {
  await Promise.race([h.exited, sleep(15_000)]);
  assert.equal(h.exitCode, 1, `the start must fail; it said:\n${h.output}`);
  return h.output;
}

test('another user is refused by the socket file mode, and by its credentials when the mode lets them in', asRoot, async (t) => {
  const { app } = sharedApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const { socket, dir } = controlPaths(h);
  chmodSync(dir, 0o711); // the socket's name is reachable; the directory is neither listed nor written

  for (const cmd of ['reload', 'status', 'stop']) {
    const r = await runAs('nobody', [cmd, app], h.env);
    assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /^hypnode: permission denied on .*\.sock: only the user who started the instance, and root, may control it\n$/);
  }
  // A socket opened up by mistake: the kernel's word on who is calling still keeps them out.
  chmodSync(socket, 0o666);
  for (const cmd of ['reload', 'status', 'stop']) {
    const r = await runAs('nobody', [cmd, app], h.env);
    assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
    assert.match(r.stderr, /^hypnode: permission denied: uid 65534 may not control this instance \(only uid 0, which started it, and root\)\n$/);
  }
  const s = await quickStatus(h);
  assert.equal(s.generation, 1, 'nothing was reloaded');
  assert.equal(s.state, 'serving', 'nothing was stopped');
  assert.ok(alive(h.pid));
});

test("root may control another user's instance; a third user may not", asRoot, async (t) => {
  const { dir, app } = sharedApp(t);
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-run-');
  chownSync(runtime, NOBODY, NOBODY);
  const h = await startAs(t, NOBODY, app, ['--workers', '1'], { PORT: String(port), HYPNODE_RUNTIME_DIR: runtime });
  assert.equal(lstatSync(controlPaths(h).socket).uid, NOBODY);

  writeFileSync(join(dir, 'version.txt'), '2\n');
  const r = await h.cli('reload'); // as root
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await get(port)).version, '2');

  chmodSync(runtime, 0o711);
  chmodSync(controlPaths(h).socket, 0o666);
  const other = await runAs('daemon', ['reload', app], h.env);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /permission denied: uid 1 may not control this instance \(only uid 65534, which started it, and root\)/);
  assert.equal((await quickStatus(h)).generation, 2);
});

test('a runtime directory others could write to, or that is not ours, is refused at start', asRoot, async (t) => {
  const { app } = faultApp(t);
  const port = String(await freePort());
  const open = tempDir(t, 'hypnode-run-');
  chmodSync(open, 0o1777);
  let out = await failedStart(await startHypnode(t, app, [], { env: { PORT: port, HYPNODE_RUNTIME_DIR: open }, wait: false }));
  assert.match(out, /^hypnode: runtime directory .* is writable by others \(mode 1777\): make it 0700 \(chmod go-w\) or choose another --runtime-dir\n$/);

  const theirs = tempDir(t, 'hypnode-run-');
  chownSync(theirs, NOBODY, NOBODY);
  out = await failedStart(await startHypnode(t, app, [], { env: { PORT: port, HYPNODE_RUNTIME_DIR: theirs }, wait: false }));
  assert.match(out, /^hypnode: runtime directory .* belongs to uid 65534, not to you \(uid 0\) or root/);

  const link = join(tempDir(t), 'run');
  symlinkSync(tempDir(t, 'hypnode-run-'), link);
  out = await failedStart(await startHypnode(t, app, [], { env: { PORT: port, HYPNODE_RUNTIME_DIR: link }, wait: false }));
  assert.match(out, /^hypnode: runtime directory .* is a symbolic link/);
});

test('of simultaneous starts of one app exactly one wins; a control socket left by a killed manager is replaced', async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-run-');
  const env = { PORT: String(port), HYPNODE_RUNTIME_DIR: runtime };
  const starts = await Promise.all(Array.from({ length: 4 }, () => startHypnode(t, app, ['--workers', '1'], { env, wait: false })));
  await waitFor('all but one start to give up', () => starts.filter((h) => h.exitCode !== null).length === 3, 15_000);
  const [winner] = starts.filter((h) => h.exitCode === null);
  for (const loser of starts.filter((h) => h !== winner)) {
    assert.equal(loser.exitCode, 1);
    assert.match(loser.output, /^hypnode: hypnode is already running or starting for .*app\.mjs \(manager pid \d+\)\n$/);
  }
  await winner!.waitServing();

  process.kill(winner!.pid, 'SIGKILL');
  await winner!.exited;
  assert.ok(existsSync(controlPaths(winner!).socket), 'a killed manager leaves its socket behind');
  const r = await runCli(['status', app], { env });
  assert.equal(r.code, 3, 'status: nothing serves');
  assert.match(r.stderr, /no hypnode instance is running for/);
  await waitFor('the orphaned worker to exit', () => [...winner!.seenPids].every((p) => !alive(p)), 5000);
  const again = await startHypnode(t, app, ['--workers', '1'], { env });
  assert.equal((await quickStatus(again)).pid, again.pid);
});

test('the PID file: written atomically over a planted symlink, 0644 whatever the umask, stale ones replaced, a live one kept', async (t) => {
  const { app } = faultApp(t);
  const files = tempDir(t);
  const pidFile = join(files, 'app.pid');
  const victim = join(files, 'victim');
  writeFileSync(victim, 'precious\n');
  symlinkSync(victim, pidFile);
  const umask = process.umask(0);
  let h: Hypnode;
  try {
    h = await startHypnode(t, app, ['--workers', '1', '--pid-file', pidFile], { env: { PORT: String(await freePort()) } });
  } finally {
    process.umask(umask);
  }
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the symlink was not followed');
  const st = lstatSync(pidFile);
  assert.ok(st.isFile());
  assert.equal(st.mode & 0o777, 0o644);
  assert.equal(readFileSync(pidFile, 'utf8'), `${h.pid}\n`);
  assert.deepEqual(readdirSync(files).sort(), ['app.pid', 'victim'], 'no temporary file is left');

  // Another instance given the same PID file must not take it from a running manager.
  const other = faultApp(t);
  const out = await failedStart(await startHypnode(t, other.app, ['--pid-file', pidFile], { env: { PORT: String(await freePort()) }, wait: false }));
  assert.match(out, new RegExp(`^hypnode: PID file ${pidFile} names hypnode manager ${h.pid}, which is running: give this instance a PID file of its own\\n$`));
  assert.equal(readFileSync(pidFile, 'utf8'), `${h.pid}\n`);

  // Left by a crash: the PID is dead, or alive but some other program's (here: this test's).
  process.kill(h.pid, 'SIGKILL');
  await h.exited;
  for (const stale of [String(h.pid), String(process.pid)]) {
    writeFileSync(pidFile, `${stale}\n`);
    const next = await startHypnode(t, app, ['--workers', '1', '--pid-file', pidFile], { env: { PORT: String(await freePort()) } });
    assert.equal(readFileSync(pidFile, 'utf8'), `${next.pid}\n`, `a PID file naming ${stale} is replaced`);
    const r = await next.cli('stop');
    assert.equal(r.code, 0, r.stderr);
    await next.exited;
    assert.equal(existsSync(pidFile), false, 'removed on stop');
  }
});
