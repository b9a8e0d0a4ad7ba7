import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exampleApp, freePort, runCli, startHypnode, tempDir } from './support/hypnode.js';

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
