import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startLoad } from '../tools/load.js';
import { exampleApp, freePort, tempDir } from './support/hypnode.js';
import { emptyProject, installedCli, InstalledManager, mappedFiles, maskedNpm, maskSkipReason, pack, pathWithNode, ROOT, run, runInstalled } from './support/installed.js';
import { startUserManager, systemdSkipReason } from './support/systemd.js';

// Issue #12: the package `npm pack` makes installs with no C toolchain and no python, runs on the
// prebuilt addon it carries (on whichever Node runs this file: `npm test` runs it on 20, 22 and
// 24), reloads under load and serves systemd's Type=notify; and where no prebuild fits and
// nothing can compile one, the install still succeeds and hypnode says what to install.

const skip = maskSkipReason() || (process.arch !== 'x64' && 'the test installs the linux-x64 prebuild') || false;
const sdSkip = skip || systemdSkipReason() || false;
const PREBUILD = join('node_modules', 'hypnode', 'prebuilds', 'linux-x64', 'hypnode.glibc.node');
const SERVICE = 'hypnode-app.service';

function get(port: number): Promise<{ status: number; version: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, version: String(res.headers['x-version']) }));
      })
      .on('error', reject);
  });
}

/** Installs the tarball into a fresh project with the toolchain masked; returns the project. */
async function install(t: Parameters<typeof emptyProject>[0], tgz: string): Promise<{ project: string; output: string }> {
  const project = emptyProject(t);
  const r = await maskedNpm(project, ['install', tgz, '--foreground-scripts']);
  const output = r.stdout + r.stderr;
  assert.notEqual(r.code, 97, `the toolchain was not masked: ${output}`);
  assert.equal(r.code, 0, `npm install failed:\n${output}`);
  return { project, output };
}

test('npm pack carries the three prebuilds, made at pack time, and no build output', { skip }, async () => {
  const { files, startedAt } = await pack();
  for (const f of ['prebuilds/linux-x64/hypnode.glibc.node', 'prebuilds/linux-x64/hypnode.musl.node', 'prebuilds/linux-arm64/hypnode.glibc.node']) {
    assert.ok(files.includes(`package/${f}`), `the package carries ${f}`);
    assert.ok(statSync(join(ROOT, f)).mtimeMs >= startedAt, `${f} was built by this npm pack (prepack)`);
  }
  for (const f of ['package/scripts/install.js', 'package/native/hypnode_native.c', 'package/binding.gyp', 'package/dist/src/native.js']) assert.ok(files.includes(f), `the package carries ${f}`);
  assert.deepEqual(files.filter((f) => /^package\/(build|test|dist\/test)\//.test(f) || f === 'package/scripts/prebuild.js'), [], 'no build output, tests or build scripts');
  // Each prebuild passes the checks the pack itself made (machine, libc only, glibc <= 2.28).
  const check = await run(process.execPath, [join(ROOT, 'scripts', 'prebuild.js'), '--check']);
  assert.equal(check.code, 0, check.stdout + check.stderr);
});

test(`npm install with no C toolchain or python succeeds on Node ${process.version} and hypnode runs on the prebuild, per project and global`, { skip }, async (t) => {
  const { tgz } = await pack();
  const { project, output } = await install(t, tgz);
  // The install script ran on this Node, found the prebuild and compiled nothing.
  assert.match(output, new RegExp(`hypnode: using the native addon prebuilds/linux-x64/hypnode\\.glibc\\.node \\(node ${process.version.replace(/\./g, '\\.')}\\)`));
  assert.equal(existsSync(join(project, 'node_modules', 'hypnode', 'build')), false, 'nothing was built');
  const version = await runInstalled(installedCli(project), ['--version']);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, new RegExp(`^hypnode \\d+\\.\\d+\\.\\d+ \\(node ${process.version.replace(/\./g, '\\.')}, linux-x64\\)\\n`));
  assert.ok(version.stdout.includes(`native addon: prebuilt for linux-x64 glibc (${join(project, PREBUILD)})`), version.stdout);

  // `npm install -g`: the bin on PATH, on this Node.
  const prefix = tempDir(t, 'hypnode-global-');
  const global = await maskedNpm(prefix, ['install', '-g', '--prefix', prefix, tgz]);
  assert.equal(global.code, 0, global.stdout + global.stderr);
  const bin = await run(join(prefix, 'bin', 'hypnode'), ['--version'], { env: { ...process.env, PATH: pathWithNode() } });
  assert.equal(bin.code, 0, bin.stderr);
  assert.ok(bin.stdout.includes(`native addon: prebuilt for linux-x64 glibc (${join(prefix, 'lib', PREBUILD)})`), bin.stdout);
});

test(`hypnode installed that way reloads under load without failing a request (Node ${process.version})`, { skip }, async (t) => {
  const { tgz } = await pack();
  const { project } = await install(t, tgz);
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = new InstalledManager(t, installedCli(project), app, ['--workers', '2'], { PORT: String(port), HYPNODE_RUNTIME_DIR: tempDir(t, 'hypnode-run-') });
  const s = await h.waitServing();
  const prebuild = join(project, PREBUILD);
  assert.ok(mappedFiles(h.pid).includes(prebuild), `the manager loaded ${prebuild}`);
  assert.ok(mappedFiles(s.workers[0]!.pid).includes(prebuild), 'so did its workers');

  const load = startLoad({ port, durationMs: 30_000, maxRequests: 50_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  for (const v of ['2', '3']) {
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(join(dir, 'version.txt'), `${v}\n`);
    const r = await h.cliRun('reload');
    assert.equal(r.code, 0, `reload to ${v}: ${r.stderr}\n${h.output}`);
  }
  await new Promise((r) => setTimeout(r, 300));
  const result = await load.stop();
  t.diagnostic(`requests: ${result.total}, failed: ${result.failed}, versions: ${JSON.stringify(result.versions)}`);
  assert.deepEqual(result.failures, {}, 'no request may fail during a reload');
  assert.ok(result.total > 100, `the load ran (${result.total} requests)`);
  for (const v of ['1', '2', '3']) assert.ok(result.versions[v], `version ${v} answered`);
  assert.doesNotMatch(h.output, /NATIVE_MISSING|native addon is missing/);
  const stop = await h.cliRun('stop');
  assert.equal(stop.code, 0, stop.stderr);
  assert.equal(await h.exited, 0);
});

test(`hypnode installed that way under systemd: Type=notify start, reload and stop (Node ${process.version})`, { skip: sdSkip }, async (t) => {
  const { tgz } = await pack();
  const { project } = await install(t, tgz);
  const sb = await startUserManager(t);
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-sdrun-');
  const cli = installedCli(project);
  const unit = await runInstalled(cli, ['unit', app, '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--out', sb.unitDir]);
  assert.equal(unit.code, 0, unit.stderr);
  const text = readFileSync(join(sb.unitDir, SERVICE), 'utf8');
  assert.ok(text.includes(`ExecStart=${process.execPath} -- ${cli} start`), `the unit runs the installed hypnode on this Node:\n${text}`);
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);

  const start = await sb.systemctl('start', SERVICE);
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  assert.equal((await get(port)).status, 200);
  const first = await sb.show(SERVICE, ['MainPID', 'StatusText']);
  assert.match(first.StatusText!, /^generation 1: 2\/2 workers ready/);
  assert.ok(mappedFiles(Number(first.MainPID)).includes(join(project, PREBUILD)), 'the service runs on the prebuild');

  const load = startLoad({ port, durationMs: 30_000, maxRequests: 100_000, keepAliveClients: 2, newConnectionClients: 2, slowEvery: 20 });
  await new Promise((r) => setTimeout(r, 300));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const reload = await sb.systemctl('reload', SERVICE);
  assert.equal(reload.code, 0, reload.stderr + sb.managerLog());
  await new Promise((r) => setTimeout(r, 300));
  const result = await load.stop();
  assert.deepEqual(result.failures, {}, 'no request failed during systemctl reload');
  assert.equal((await get(port)).version, '2');
  const after = await sb.show(SERVICE, ['MainPID', 'StatusText']);
  assert.equal(after.MainPID, first.MainPID);
  assert.match(after.StatusText!, /^generation 2: 2\/2 workers ready; last reload .* ok/);

  const stop = await sb.systemctl('stop', SERVICE);
  assert.equal(stop.code, 0, stop.stderr);
  const stopped = await sb.show(SERVICE, ['ActiveState', 'Result']);
  assert.deepEqual([stopped.ActiveState, stopped.Result], ['inactive', 'success']);
});

test(`no prebuild fits and nothing can compile: the install succeeds with a warning, hypnode warns once, and systemd's start fails at once saying what to install (Node ${process.version})`, { skip: sdSkip }, async (t) => {
  const { noPrebuild } = await pack();
  const { project, output } = await install(t, noPrebuild);
  assert.match(output, /hypnode: WARNING: no native addon: no prebuild fits linux-x64 and building one from source failed/);
  assert.match(output, /install python3, make and a C compiler .* then run `npm rebuild hypnode`/);
  assert.equal(existsSync(join(project, 'node_modules', 'hypnode', 'build')), false, 'the failed build left nothing behind');
  const cli = installedCli(project);
  const version = await runInstalled(cli, ['--version']);
  assert.match(version.stdout, /^native addon: none \(hypnode's native addon is missing: no prebuild for linux-x64 glibc .*npm rebuild hypnode/m);

  // Not under systemd: it runs, with one warning naming what is missing and how to get it.
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = new InstalledManager(t, cli, app, ['--workers', '2'], { PORT: String(port), HYPNODE_RUNTIME_DIR: tempDir(t, 'hypnode-run-') });
  await h.waitServing();
  assert.equal((await get(port)).status, 200);
  const warnings = h.output.split('\n').filter((l) => l.includes('NATIVE_MISSING'));
  assert.equal(warnings.length, 1, `one warning, from the manager and none from its workers:\n${h.output}`);
  assert.match(warnings[0]!, /native addon is missing: no prebuild for linux-x64 glibc .*install python3, make and a C compiler .*`npm rebuild hypnode`/);
  assert.equal((await h.cliRun('stop')).code, 0);
  await h.exited;

  // Under systemd (Type=notify): `systemctl start` fails at once, not at TimeoutStartSec=.
  const sb = await startUserManager(t);
  const runtime = tempDir(t, 'hypnode-sdrun-');
  const unit = await runInstalled(cli, ['unit', app, '--workers', '1', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--out', sb.unitDir]);
  assert.equal(unit.code, 0, unit.stderr);
  assert.match(readFileSync(join(sb.unitDir, SERVICE), 'utf8'), /^TimeoutStartSec=\d{3}$/m, 'a start timeout of minutes');
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);
  const started = Date.now();
  const start = await sb.systemctl('start', SERVICE);
  const took = Date.now() - started;
  t.diagnostic(`systemctl start failed after ${took} ms`);
  assert.notEqual(start.code, 0, 'systemctl start fails');
  assert.ok(took < 15_000, `it failed at once, not at the start timeout (${took} ms)`);
  const log = sb.managerLog();
  const errors = log.split('\n').filter((l) => l.includes('hypnode: cannot speak sd_notify'));
  assert.ok(errors.length >= 1, `the unit's output says why:\n${log}`);
  assert.match(errors[0]!, /^hypnode: cannot speak sd_notify to systemd \(NOTIFY_SOCKET is set\) without a native addon: .*no prebuild for linux-x64 glibc.*install python3, make and a C compiler .*`npm rebuild hypnode`/);
  assert.doesNotMatch(log, /^\s+at /m, 'one line, no stack trace');
  const failed = await sb.show(SERVICE, ['Result', 'ExecMainStatus']);
  assert.equal(failed.ExecMainStatus, '1');
  assert.equal((await sb.systemctl('stop', SERVICE)).code, 0);
});
