import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultSettings } from '../../src/config/settings.js';
import { serviceUnit, unitName, type UnitOptions } from '../../src/systemd/unit.js';

const base: UnitOptions = {
  app: '/srv/shop/current/app.js',
  settings: defaultSettings(),
  startArgs: ['--workers', '4'],
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
  assert.equal(unitName(base.app, null), 'hypnode-app');
  for (const line of [
    'ExecStart=/usr/bin/node /usr/lib/node_modules/hypnode/dist/src/cli/main.js start /srv/shop/current/app.js --workers 4 --pid-file %t/hypnode/hypnode-app/manager.pid',
    // An upgrade's new manager may have to claim the main PID itself (its predecessor died first).
    'NotifyAccess=all',
    'PIDFile=%t/hypnode/hypnode-app/manager.pid',
    'WorkingDirectory=/srv/shop/current',
    'Environment=PWD=/srv/shop/current',
    'User=shop',
    'RuntimeDirectory=hypnode/hypnode-app',
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
  assert.match(pid, /^ExecReload=.* reload \/srv\/shop\/current\/app\.js --name web$/m);
});
