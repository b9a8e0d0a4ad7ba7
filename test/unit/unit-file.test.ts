import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCli } from '../../src/cli/args.js';
import { startArgs } from '../../src/cli/commands/unit.js';
import { resolveSettings, type SettingSources } from '../../src/config/resolve.js';
import { defaultSettings, SETTINGS, type SettingKind } from '../../src/config/settings.js';
import { serviceUnit, unitName, type UnitOptions } from '../../src/systemd/unit.js';

const base: UnitOptions = {
  app: '/srv/shop/current/app.js',
  cwd: '/srv/shop/current',
  settings: defaultSettings(),
  startArgs: ['--workers=4'],
  appArgs: null,
  env: {},
  node: '/usr/bin/node',
  cli: '/usr/lib/node_modules/hypnode/dist/src/cli/main.js',
  configPath: null,
  sockets: [],
  user: 'shop',
  group: null,
  writable: ['/srv/shop/shared/uploads'],
  privilegedPorts: false,
};

test('the unit: the app by its symlinked path, its user, its runtime directory, the sandbox', () => {
  const unit = serviceUnit(base);
  assert.equal(unitName(base.app, null), 'hypnode-shop');
  for (const line of [
    'ExecStart=/usr/bin/node -- /usr/lib/node_modules/hypnode/dist/src/cli/main.js start /srv/shop/current/app.js --workers=4 --pid-file=%t/hypnode/hypnode-shop/manager.pid',
    // An upgrade's new manager may have to claim the main PID itself (its predecessor died first).
    'NotifyAccess=all',
    'PIDFile=%t/hypnode/hypnode-shop/manager.pid',
    'WorkingDirectory=/srv/shop/current',
    'Environment=PWD=/srv/shop/current',
    'User=shop',
    'RuntimeDirectory=hypnode/hypnode-shop',
    'ReadWritePaths=/srv/shop/shared/uploads',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'PrivateUsers=yes',
    'CapabilityBoundingSet=',
    'SystemCallFilter=@system-service @pkey',
    `TimeoutStartSec=${60 + 2 + 30 + 30}`,
  ]) {
    assert.ok(unit.split('\n').includes(line), `has ${line}`);
  }
  assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=/m);
  assert.match(unit, /^# MemoryDenyWriteExecute= is left out/m);
  assert.doesNotMatch(unit, /^Group=/m);
});

test('the unit adapts: a home directory is read-only not hidden, /tmp stays shared, privileged ports keep one capability', () => {
  const home = serviceUnit({ ...base, node: '/home/shop/.nvm/versions/node/v24/bin/node' });
  assert.match(home, /^ProtectHome=read-only$/m);
  const tmp = serviceUnit({ ...base, app: '/tmp/demo/app.js' });
  assert.doesNotMatch(tmp, /^PrivateTmp=/m);
  assert.match(tmp, /^# PrivateTmp= is left out: the app .* is under \/tmp/m);
  const ports = serviceUnit({ ...base, privilegedPorts: true, group: 'www' });
  assert.match(ports, /^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$/m);
  assert.match(ports, /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  assert.doesNotMatch(ports, /^PrivateUsers=yes$/m, 'a capability holds only in the host user namespace');
  assert.match(ports, /^Group=www$/m);
  const pid = serviceUnit({ ...base, settings: { ...base.settings, pidFile: '/run/shop/app.pid', name: 'web' } });
  assert.match(pid, /^ReadWritePaths=\/srv\/shop\/shared\/uploads \/run\/shop$/m);
  assert.match(pid, /^ExecReload=.* reload \/srv\/shop\/current\/app\.js --name=web$/m);
});

test('unit names: one per app, from the directory when the file name says nothing', () => {
  const names: [string, string | null, string][] = [
    ['/srv/shop/app.js', null, 'hypnode-shop'],
    ['/srv/blog/app.js', null, 'hypnode-blog'],
    ['/srv/blog/app.js', 'blog-2', 'hypnode-blog-2'],
    ['/srv/api/worker.mjs', null, 'hypnode-worker'],
    ['/srv/nuxt-site/.output/server/index.mjs', null, 'hypnode-nuxt-site'],
    ['/srv/astro/dist/server/entry.mjs', null, 'hypnode-astro'],
    ['/srv/shop/releases/20261205120000/server.js', null, 'hypnode-shop'],
    ['/srv/rr/node_modules/.bin/react-router-serve', null, 'hypnode-rr'],
    ['/app.js', null, 'hypnode-app'],
    ['/srv/app/.output/server/index.mjs', null, 'hypnode-app'],
  ];
  for (const [app, name, unit] of names) assert.equal(unitName(app, name), unit, app);
});

/** systemd's reading of a command line: words, "quotes" with \\ escapes, %% and $$ for % and $. */
function systemdWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const word = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!;
    words.push(word.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

test('every setting given to `hypnode unit` reaches `hypnode start` through the unit unchanged', async () => {
  const samples: Record<SettingKind, string | string[] | boolean> = {
    int: '3', number: '99.5', seconds: '1.5', bool: true, string: '-odd "value" with $HOME and 50%',
    list: ['--import tsx', '--max-old-space-size=512'], paths: ['./a b.env', '-dash.env'], map: ['A=1 B=-x', 'C=$PATH%'],
  };
  const valid: Partial<Record<string, string>> = { logBuffer: '65536', readyPath: '/-ready?"x"%$1', reloadBatch: '25%', name: '-web.1', admin: '127.0.0.1:9000', logFormat: 'json', verdict: 'require', heartbeatTimeout: '2500ms', runtimeDir: '/run/odd dir' };
  const flags = Object.fromEntries(SETTINGS.map((s) => [s.key, valid[s.key] ?? samples[s.kind]])) as SettingSources['flags'];
  const sources = (f: SettingSources['flags'], args: string[] | null): SettingSources => ({ flags: f, appArgs: args, env: {}, appPath: '/srv/shop/app.js', cwd: '/srv/shop', configPath: null });
  const { args: _, ...withoutArgs } = flags;
  // The app's arguments with --args, or after -- (not both: start refuses that).
  let unit = '';
  for (const [f, appArgs] of [[flags, null], [withoutArgs, ['--port', '3000', 'it\'s "quoted" $1']]] as const) {
    const given = await resolveSettings(sources(f, appArgs ? [...appArgs] : null));
    unit = serviceUnit({ ...base, settings: given.settings, startArgs: startArgs(f), appArgs: appArgs ? [...appArgs] : null });
    const exec = systemdWords(/^ExecStart=(.*)$/m.exec(unit)![1]!);
    assert.deepEqual(exec.slice(0, 4), [base.node, '--', base.cli, 'start']);
    const parsed = parseCli(exec.slice(3));
    assert.deepEqual(parsed.appArgs, appArgs);
    assert.deepEqual((await resolveSettings(sources(parsed.flags, parsed.appArgs))).settings, given.settings);
  }
  // A switch turned off (one that is on by default) stays off through the unit.
  assert.deepEqual(startArgs({ balancedAccept: false, waitReady: true }), ['--no-balanced-accept', '--wait-ready']);
  assert.deepEqual(parseCli(['start', 'app.js', '--no-balanced-accept', '--wait-ready']).flags, { balancedAccept: false, waitReady: true });
  const reload = parseCli(systemdWords(/^ExecReload=(.*)$/m.exec(unit)![1]!).slice(3));
  assert.deepEqual([reload.flags.name, reload.flags.runtimeDir], [flags.name, flags.runtimeDir], 'reload finds the instance start made');
});
