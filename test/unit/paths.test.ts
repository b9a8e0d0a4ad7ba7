import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { candidateDirs, instancePaths, runtimeDir } from '../../src/control/paths.js';
import { appPath } from '../../src/config/app-file.js';

test('instance paths: named by the app path as given (and --name), short enough for a socket', () => {
  const a = instancePaths('/srv/app/current/app.js', null, '/run/hypnode');
  assert.match(a.socket, /^\/run\/hypnode\/app\.js\.[0-9a-f]{12}\.sock$/);
  assert.equal(instancePaths('/srv/app/current/app.js', null, '/run/hypnode').socket, a.socket, 'stable');
  assert.notEqual(instancePaths('/srv/app/releases/7/app.js', null, '/run/hypnode').socket, a.socket, 'the release is not the name');
  assert.match(instancePaths('/srv/app.js', 'web', '/x').socket, /\/app\.js\.web\.[0-9a-f]{12}\.sock$/);
  assert.throws(() => instancePaths('/srv/app.js', null, `/${'d'.repeat(120)}`), /longer than 107 bytes/);
  assert.equal(appPath('app.js', '/srv/app/current', false), '/srv/app/current/app.js', 'relative to the logical directory');
});

test('runtime directory: a unit\'s RuntimeDirectory=hypnode/NAME, else the default; the CLI also looks in every unit\'s', (t) => {
  assert.equal(runtimeDir('/custom', {}), '/custom');
  assert.equal(runtimeDir(null, { RUNTIME_DIRECTORY: '/run/other:/run/hypnode/hypnode-app' }), '/run/hypnode/hypnode-app');
  const xdg = mkdtempSync(join(tmpdir(), 'hypnode-xdg-'));
  t.after(() => rmSync(xdg, { recursive: true, force: true }));
  mkdirSync(join(xdg, 'hypnode', 'hypnode-shop'), { recursive: true });
  const dirs = candidateDirs(null, { XDG_RUNTIME_DIR: xdg });
  assert.ok(dirs.includes(join(xdg, 'hypnode', 'hypnode-shop')), dirs.join(' '));
  assert.deepEqual(candidateDirs('/custom', {}), ['/custom']);
});
