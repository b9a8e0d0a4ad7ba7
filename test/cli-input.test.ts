import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { instancePaths } from '../src/control/paths.js';
import { exampleApp, freePort, runCli, startHypnode, tempDir, type CliResult } from './support/hypnode.js';

// Bad input gets one clear line naming the culprit and a non-zero exit.

test('bad input is rejected with a line that names the file, key or flag', async (t) => {
  const dir = tempDir(t);
  const env = { HYPNODE_RUNTIME_DIR: dir };
  const cases: [string[], RegExp, number][] = [
    [['start', join(dir, 'missing.js')], /app file .*missing\.js does not exist/, 2],
    [['start', dir], /is a directory/, 2],
    [['start'], /missing APP/, 2],
    [['frobnicate', 'x.js'], /unknown command "frobnicate"/, 2],
    [['start', join(dir, 'app.js'), '--workers', 'four'], /flag --workers: expected a whole number, got "four"/, 2],
    [['start', join(dir, 'app.js'), '--bogus'], /unknown option --bogus; see `hypnode help start`/, 2],
    [['status', join(dir, 'app.js')], /no hypnode instance is running for/, 3],
    [['reload', join(dir, 'app.js')], /no hypnode instance is running for/, 1],
    [['unit', join(dir, 'app.js'), '--user', 'root', '--out', join(dir, 'no-such-dir')], /--out .*no-such-dir: no such directory/, 2],
    [['unit', join(dir, 'app.js'), '--user', 'root', '--out', join(dir, 'app.js')], /--out .*app\.js: not a directory/, 2],
  ];
  writeFileSync(join(dir, 'app.js'), '');
  for (const [args, message, code] of cases) {
    const r = await runCli(args, { env });
    assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  }
});

test('config file errors name the file and the key; flags beat env beat the file', async (t) => {
  const dir = tempDir(t);
  const env = { HYPNODE_RUNTIME_DIR: dir };
  const app = join(dir, 'app.js');
  writeFileSync(app, '');
  const config = join(dir, 'hypnode.config.json');
  writeFileSync(config, '{"workers": 2, "gracefulTimeuot": 5}');
  let r = await runCli(['start', app], { env });
  assert.match(r.stderr, /hypnode\.config\.json: unknown key "gracefulTimeuot"/);
  writeFileSync(config, '{"workers": 0}');
  r = await runCli(['start', app], { env });
  assert.match(r.stderr, /key "workers": must be at least 1/);
  writeFileSync(config, '{"workers": 2,');
  r = await runCli(['start', app], { env });
  assert.match(r.stderr, /is not valid JSON/);

  const ex = exampleApp(t, 'hello');
  writeFileSync(join(ex.dir, 'hypnode.config.json'), '{"workers": 3, "gracefulTimeout": 7}');
  const port = await freePort();
  const h = await startHypnode(t, ex.app, ['--workers', '1'], { env: { PORT: String(port), HYPNODE_WORKERS: '2' } });
  assert.equal((await h.status()).workersWanted, 1, 'the flag wins over env and file');
});

test('a second start of a running app is refused and the first keeps serving', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const r = await runCli(['start', app], { env: h.env });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already running/);
  assert.equal((await h.status()).state, 'serving');
});

/** A failure as --json prints it on stdout: its code, and the same words as on stderr. */
function jsonFailure(r: CliResult, code: string, status: number, what: string): Record<string, unknown> {
  assert.equal(r.code, status, `${what}: exit ${r.code}, ${r.stderr}`);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(out.ok, false, what);
  assert.equal(out.code, code, what);
  assert.equal(`hypnode: ${String(out.error)}\n`, r.stderr.split('\n').filter((l) => !l.startsWith('hypnode: warning:')).join('\n'), `${what}: the error on stderr too`);
  return out;
}

test('with --json an error is a document on stdout with its code: NOT_RUNNING (status 3, else 1), CONFIG_INVALID (2)', async (t) => {
  const dir = tempDir(t);
  const env = { HYPNODE_RUNTIME_DIR: dir };
  const app = join(dir, 'app.js');
  writeFileSync(app, '');
  jsonFailure(await runCli(['status', app, '--json'], { env }), 'NOT_RUNNING', 3, 'status, nothing running');
  jsonFailure(await runCli(['reload', app, '--json'], { env }), 'NOT_RUNNING', 1, 'reload, nothing running');
  jsonFailure(await runCli(['stop', app, '--json'], { env }), 'NOT_RUNNING', 1, 'stop, nothing running');
  writeFileSync(join(dir, 'hypnode.config.json'), '{"workers": 2,');
  const invalid = jsonFailure(await runCli(['reload', app, '--json'], { env }), 'CONFIG_INVALID', 2, 'reload, a broken config file');
  assert.match(String(invalid.error), /hypnode\.config\.json is not valid JSON/);
  // status only warns of a broken config file (told apart by its code) and asks on.
  const status = await runCli(['status', app, '--json'], { env });
  jsonFailure(status, 'NOT_RUNNING', 3, 'status, a broken config file');
  assert.match(status.stderr, /^hypnode: warning: the next reload would fail: config file .*is not valid JSON/m);
});

test('a manager older than the codes answers failures without one: FAILED (exit 1), DENIED when it refused the caller; a code it sends chooses the exit status', async (t) => {
  const dir = tempDir(t);
  const env = { HYPNODE_RUNTIME_DIR: dir };
  const app = join(dir, 'app.js');
  writeFileSync(app, '');
  // A stand-in manager on the instance's control socket, answering each request with `answer`.
  let answer: object = {};
  const manager = net.createServer((socket) => socket.once('data', () => socket.end(`${JSON.stringify(answer)}\n`)));
  await new Promise<void>((resolve) => manager.listen(instancePaths(app, null, dir).socket, resolve));
  t.after(() => manager.close());

  answer = { ok: false, error: 'the manager itself is being upgraded; reload once that is done' };
  jsonFailure(await runCli(['reload', app, '--json'], { env }), 'FAILED', 1, 'an old manager refusing a reload');
  answer = { ok: false, error: 'permission denied: uid 65534 may not control this instance', denied: true };
  jsonFailure(await runCli(['status', app, '--json'], { env }), 'DENIED', 1, 'an old manager refusing the caller');
  answer = { ok: false, error: 'a code from the future', code: 'NOT_YET_INVENTED' };
  jsonFailure(await runCli(['reload', app, '--json'], { env }), 'FAILED', 1, 'a newer manager');
  answer = { ok: false, code: 'UPGRADING', error: 'the manager itself is being upgraded; reload once that is done', output: '', serving: null };
  jsonFailure(await runCli(['reload', app, '--json'], { env }), 'UPGRADING', 75, 'a manager that says UPGRADING');
});
