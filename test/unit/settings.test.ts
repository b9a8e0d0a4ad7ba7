import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveLeniently, resolveSettings, type SettingSources } from '../../src/config/resolve.js';
import { settingsMarkdown, withSettingsTable } from '../../src/config/settings-doc.js';
import { defaultSettings, SETTINGS, settingsSchema } from '../../src/config/settings.js';

function dir(t: TestContext): string {
  const d = mkdtempSync(join(tmpdir(), 'hypnode-unit-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function sources(d: string, over: Partial<SettingSources> = {}): SettingSources {
  return { flags: {}, appArgs: null, env: {}, appPath: join(d, 'app.js'), cwd: d, configPath: null, ...over };
}

test('settings: flags > environment > config file > defaults; every default passes the schema', async (t) => {
  assert.doesNotThrow(() => settingsSchema.parse(defaultSettings()));
  const d = dir(t);
  writeFileSync(join(d, 'hypnode.config.json'), JSON.stringify({ workers: 3, gracefulTimeout: 7, envFile: ['shared/app.env'] }));
  const fromFile = await resolveSettings(sources(d));
  assert.equal(fromFile.settings.workers, 3);
  assert.deepEqual(fromFile.settings.envFile, [join(d, 'shared/app.env')], "a config file's paths are its own: relative to it");
  const fromEnv = await resolveSettings(sources(d, { env: { HYPNODE_WORKERS: '2', HYPNODE_ENV_FILE: 'a.env:/etc/b.env', HYPNODE_PROBATION: '500ms' } }));
  assert.equal(fromEnv.settings.workers, 2);
  assert.deepEqual(fromEnv.settings.envFile, [join(d, 'a.env'), '/etc/b.env']);
  assert.equal(fromEnv.settings.probation, 0.5);
  const fromFlag = await resolveSettings(sources(d, { env: { HYPNODE_WORKERS: '2' }, flags: { workers: '1', readyPath: 'off', args: 'x y' }, appArgs: null }));
  assert.equal(fromFlag.settings.workers, 1);
  assert.equal(fromFlag.settings.readyPath, 'off');
  assert.deepEqual(fromFlag.settings.args, ['x', 'y']);
  assert.equal(fromFlag.settings.gracefulTimeout, 7, 'what no layer above sets comes from the file');
});

test('settings: errors name the file and key, the variable or the flag', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'hypnode.config.json'), '{"readyPath": "healthz"}');
  await assert.rejects(resolveSettings(sources(d)), /hypnode\.config\.json: key "readyPath": a path starting with \/, or "off"/);
  writeFileSync(join(d, 'hypnode.config.json'), '{}');
  await assert.rejects(resolveSettings(sources(d, { env: { HYPNODE_PROBATION: 'soon' } })), /environment variable HYPNODE_PROBATION: expected seconds/);
  await assert.rejects(resolveSettings(sources(d, { flags: { heartbeatInterval: '5', heartbeatTimeout: '2' } })), /heartbeatTimeout \(2s\) must be longer than heartbeatInterval \(5s\)/);
});

test('settings: an error in a config file names the key, or the line and column, never a secret value', async (t) => {
  const d = dir(t);
  const secret = 'postgres://app:s3cretPassw0rd@db/app';
  const rejects = async (text: string, message: RegExp) => {
    writeFileSync(join(d, 'hypnode.config.json'), text);
    await assert.rejects(resolveSettings(sources(d)), (err: Error) => {
      assert.match(err.message, message);
      assert.ok(!err.message.includes('s3cret'), `the value is not quoted: ${err.message}`);
      return true;
    });
  };
  await rejects(`{\n  "workers": 2,\n  "env": {"DATABASE_URL": ${secret}"}\n}`, /is not valid JSON: line 3, column 27: Unexpected token$/);
  await rejects(`{\n  "env": {"DATABASE_URL": "${secret}",}\n}`, /is not valid JSON: line 2, column \d+: Expected double-quoted property name$/);
  await rejects(`{"env": {"DATABASE_URL": "${secret}", "PORT": 80}}`, /key "env" at PORT: expected a string$/);
  await rejects(`{"args": ["--password=${secret}", 7]}`, /key "args" at 1: expected a string$/);
});

test('settings: a config file that does not parse leaves flags and environment, and says why', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'hypnode.config.json'), '{"name": ');
  const r = await resolveLeniently(sources(d, { flags: { name: 'web' } }));
  assert.equal(r.settings.name, 'web');
  assert.match(r.configError ?? '', /hypnode\.config\.json is not valid JSON/);
});

test("the README's settings table is the one the settings table makes (`npm run docs` rewrites it)", () => {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  assert.equal(withSettingsTable(readme), readme, 'README.md is out of date: run `npm run docs`');
  for (const s of SETTINGS) assert.match(settingsMarkdown(), new RegExp(`\\| \`--${s.flag}\` \\| \`${s.env}\` \\| \`${s.key}\``));
});

test('settings: a former name (upgradeTimeout) still sets the setting, in the file and the environment; both names at once is an error naming both', async (t) => {
  const d = dir(t);
  writeFileSync(join(d, 'hypnode.config.json'), JSON.stringify({ upgradeTimeout: 7 }));
  assert.equal((await resolveSettings(sources(d))).settings.readyTimeout, 7);
  assert.equal((await resolveSettings(sources(d, { env: { HYPNODE_UPGRADE_TIMEOUT: '9' } }))).settings.readyTimeout, 9);
  assert.equal((await resolveSettings(sources(d, { env: { HYPNODE_READY_TIMEOUT: '8' } }))).settings.readyTimeout, 8);
  assert.equal((await resolveSettings(sources(d, { env: { HYPNODE_READY_TIMEOUT: '', HYPNODE_UPGRADE_TIMEOUT: '5' } }))).settings.readyTimeout, 5, 'an empty variable is one not set');
  await assert.rejects(resolveSettings(sources(d, { env: { HYPNODE_UPGRADE_TIMEOUT: 'soon' } })), /^UsageError: environment variable HYPNODE_UPGRADE_TIMEOUT: expected seconds/, 'an error names the variable given');
  await assert.rejects(resolveSettings(sources(d, { env: { HYPNODE_READY_TIMEOUT: '8', HYPNODE_UPGRADE_TIMEOUT: '9' } })),
    /both HYPNODE_READY_TIMEOUT and HYPNODE_UPGRADE_TIMEOUT \(its former name\) are given: give only HYPNODE_READY_TIMEOUT/);
  writeFileSync(join(d, 'hypnode.config.json'), JSON.stringify({ readyTimeout: 7, upgradeTimeout: 8 }));
  await assert.rejects(resolveSettings(sources(d)), /hypnode\.config\.json: both "readyTimeout" and "upgradeTimeout" \(its former name\) are given: give only "readyTimeout"/);
  writeFileSync(join(d, 'hypnode.config.json'), JSON.stringify({ upgradeTimeout: 0 }));
  await assert.rejects(resolveSettings(sources(d)), /hypnode\.config\.json: key "upgradeTimeout": /, 'an error names the key given');
  writeFileSync(join(d, 'hypnode.config.json'), JSON.stringify({ upgradeTimout: 7 }));
  await assert.rejects(resolveSettings(sources(d)), (err: Error) => /unknown key "upgradeTimout"/.test(err.message) && !/upgradeTimeout/.test(err.message), 'the known keys listed are the current names only');
});
