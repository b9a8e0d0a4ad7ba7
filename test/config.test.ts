import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { exampleApp, freePort, runCli, startHypnode, tempDir } from './support/hypnode.js';

// Issue #6, point 6: the config file as hypnode.config.json, .mjs or .js (or --config PATH, or
// HYPNODE_CONFIG), validated with errors that name the file and key, read again on every reload;
// precedence flags > environment > file > defaults.

test('hypnode.config.mjs beside the app is read at start and again on reload', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const config = join(dir, 'hypnode.config.mjs');
  writeFileSync(config, 'export default { workers: 3, gracefulTimeout: 5 };\n');
  const h = await startHypnode(t, app, [], { env: { PORT: String(await freePort()) } });
  assert.equal((await h.status()).workersWanted, 3);

  writeFileSync(config, 'const workers = 1;\nexport default { workers };\n');
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  const s = await h.status();
  assert.equal(s.generation, 2);
  assert.equal(s.workersWanted, 1, 'the edited file, not a cached module, was read');
});

test('--config PATH (a CommonJS .js file) is read instead of the file beside the app', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  writeFileSync(join(dir, 'hypnode.config.json'), '{"workers": 3}');
  const elsewhere = join(tempDir(t), 'hypnode.config.js');
  writeFileSync(elsewhere, 'module.exports = { workers: 1 };\n');
  const h = await startHypnode(t, app, ['--config', elsewhere], { env: { PORT: String(await freePort()) } });
  assert.equal((await h.status()).workersWanted, 1);
});

test('precedence: flags > environment > config file', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  writeFileSync(join(dir, 'hypnode.config.json'), '{"workers": 3}');
  const env = { PORT: String(await freePort()), HYPNODE_WORKERS: '1' };
  const fromEnv = await startHypnode(t, app, [], { env });
  assert.equal((await fromEnv.status()).workersWanted, 1, 'the environment beats the file');
  assert.equal((await fromEnv.cli('stop')).code, 0);

  const fromFlag = await startHypnode(t, app, ['--workers', '2'], { env });
  assert.equal((await fromFlag.status()).workersWanted, 2, 'the flag beats the environment');
});

test('config file errors name the file and the key, whatever its kind', async (t) => {
  const dir = tempDir(t);
  const app = join(dir, 'app.js');
  writeFileSync(app, '');
  const env = { HYPNODE_RUNTIME_DIR: dir };
  const cases: [string, string, RegExp][] = [
    ['hypnode.config.mjs', 'export default { workers: "four" };', /hypnode\.config\.mjs: key "workers": expected a number/],
    ['hypnode.config.mjs', 'export default { logFormat: "xml" };', /hypnode\.config\.mjs: key "logFormat": expected "text" or "json"/],
    ['hypnode.config.mjs', 'export default [4];', /hypnode\.config\.mjs must hold an object of settings/],
    ['hypnode.config.mjs', 'throw new Error("no secrets here");', /hypnode\.config\.mjs failed to load: no secrets here/],
    ['hypnode.config.js', 'module.exports = { wokers: 2 };', /hypnode\.config\.js: unknown key "wokers"/],
  ];
  for (const [name, text, message] of cases) {
    const other = tempDir(t);
    writeFileSync(join(other, name), text);
    // HYPNODE_CONFIG names the file as --config would.
    const r = await runCli(['unit', app], { env: { ...env, HYPNODE_CONFIG: join(other, name) } });
    assert.equal(r.code, 2, `${name} ${text}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('a config file that no longer parses does not keep status or stop from the running instance: they act, and warn', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const config = join(dir, 'hypnode.config.json');
  writeFileSync(config, '{"workers": 2}');
  const h = await startHypnode(t, app, [], { env: { PORT: String(await freePort()) } });
  writeFileSync(config, '{"workers": 2,');
  const s = await h.cli('status', '--json');
  assert.equal(s.code, 0, s.stderr);
  assert.equal((JSON.parse(s.stdout) as { workersReady: number }).workersReady, 2);
  assert.match(s.stderr, /^hypnode: warning: the next reload would fail: config file .*hypnode\.config\.json is not valid JSON/);
  const reload = await h.cli('reload');
  assert.equal(reload.code, 2, 'a reload would read the file: refused, naming it');
  assert.match(reload.stderr, /hypnode\.config\.json is not valid JSON/);
  const stop = await h.cli('stop');
  assert.equal(stop.code, 0, stop.stderr);
  assert.match(stop.stderr, /warning: the next reload would fail/);
  assert.equal(await h.exited, 0);
});
