import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import { freePort, runCli } from './support/hypnode.js';
import { get } from './support/http.js';
import { startUserManager, systemdSkipReason } from './support/systemd.js';

// Issue #25, point 1: the unit `hypnode unit` writes runs each app layout as `hypnode start` run
// in the same directory would, under a real systemd: a package's bin script given a relative build
// path that serves its assets from a path relative to the working directory (React Router 7's
// `react-router-serve build/server/index.js`, here a stand-in of the same shape: installing and
// building React Router needs the network), node options from a config file with a relative path,
// and TypeScript run by tsx through `--node-args=--import tsx`.

const skip = systemdSkipReason() ?? false;
const TSX = resolve('node_modules/tsx');

/**
 * A project directory, as a deploy's /srv/NAME: not under /tmp, where the unit's read-only file
 * system would leave no writable /tmp (tsx keeps its cache there; the unit's PrivateTmp= gives one).
 */
function project(t: TestContext, name: string): string {
  const base = mkdtempSync('/var/lib/hypnode-layouts-');
  t.after(() => rmSync(base, { recursive: true, force: true }));
  const dir = join(base, name);
  mkdirSync(dir);
  mkdirSync(join(base, 'run'));
  return dir;
}

function files(dir: string, tree: Record<string, string>): void {
  for (const [path, text] of Object.entries(tree)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
}

/** A project laid out as React Router 7's: a bin script in node_modules/.bin, the build beside. */
function reactRouterLike(t: TestContext): string {
  const dir = project(t, 'shop');
  files(dir, {
    'package.json': '{"type": "module"}',
    'node_modules/serve-standin/package.json': '{"type": "module", "bin": {"react-router-serve": "cli.js"}}',
    // As react-router-serve: the build by a path from the working directory, its assets where the build says, from there too.
    'node_modules/serve-standin/cli.js': `#!/usr/bin/env node
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const build = await import(pathToFileURL(resolve(process.argv[2])).href);
const assets = resolve(build.assetsBuildDirectory);
http.createServer((req, res) => {
  if (req.url.startsWith('/assets/')) {
    try { return void res.end(readFileSync(join(assets, req.url))); } catch { res.statusCode = 404; return void res.end('not found'); }
  }
  res.end(build.render(req.url));
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
    'build/server/index.js': `export const assetsBuildDirectory = 'build/client';
export const render = () => '<script src="/assets/entry-1.js"></script> instrumented=' + (globalThis.instrumented === true);
`,
    'build/client/assets/entry-1.js': 'console.log("hydrated");\n',
    'instrument.mjs': 'globalThis.instrumented = true;\n',
    // The config's relative path is the working directory's, as node reads --import.
    'hypnode.config.json': '{"nodeArgs": ["--import", "./instrument.mjs"]}',
  });
  mkdirSync(join(dir, 'node_modules/.bin'));
  symlinkSync('../serve-standin/cli.js', join(dir, 'node_modules/.bin/react-router-serve'));
  return dir;
}

test('a package bin script with a relative build path: its pages and assets are served, a reload works', { skip }, async (t) => {
  const sb = await startUserManager(t);
  const shop = reactRouterLike(t);
  const port = await freePort();
  const runtime = join(shop, '../run');
  // The config file beside the app would be node_modules/.bin's: this project's is named.
  const made = await runCli(['unit', 'react-router-serve', '--config', 'hypnode.config.json', '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--out', sb.unitDir, '--', 'build/server/index.js'], { cwd: shop });
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /hypnode-shop\.service/, 'named by the project, not by the script');
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);
  const start = await sb.systemctl('start', 'hypnode-shop.service');
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  const page = await get(port, '/');
  assert.equal(page.status, 200);
  assert.match(page.body, /instrumented=true/, "the config's --import ./instrument.mjs ran");
  const asset = await get(port, '/assets/entry-1.js');
  assert.deepEqual([asset.status, asset.body], [200, 'console.log("hydrated");\n'], 'the assets are served');
  const reload = await sb.systemctl('reload', 'hypnode-shop.service');
  assert.equal(reload.code, 0, reload.stderr + sb.managerLog());
  assert.equal((await get(port, '/assets/entry-1.js')).status, 200);
  assert.equal((await sb.systemctl('stop', 'hypnode-shop.service')).code, 0);

  // Another project's app of the same name would get the same unit: refused, unless --force.
  const other = project(t, 'shop');
  files(other, { 'app.js': '' });
  const clash = await runCli(['unit', 'app.js', '--user', 'root', '--out', sb.unitDir], { cwd: other });
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /hypnode-shop\.service was made for .*react-router-serve: give this app a unit of its own with --name NAME, or replace it with --force/);
  assert.equal((await runCli(['unit', 'app.js', '--user', 'root', '--out', sb.unitDir, '--force'], { cwd: other })).code, 0);
});

test('TypeScript through tsx: `--node-args=--import tsx` reaches the workers', { skip }, async (t) => {
  const sb = await startUserManager(t);
  const api = project(t, 'api');
  files(api, {
    'package.json': '{"type": "module"}',
    'app.ts': `import http from 'node:http';
interface Reply { typed: boolean }
const reply: Reply = { typed: true };
http.createServer((req, res) => res.end(JSON.stringify(reply))).listen(Number(process.env.PORT), '127.0.0.1');
`,
  });
  // tsx as the app's own dependency: node resolves --import tsx from the working directory.
  mkdirSync(join(api, 'node_modules'));
  symlinkSync(TSX, join(api, 'node_modules/tsx'));
  const port = await freePort();
  const runtime = join(api, '../run');
  const made = await runCli(['unit', 'app.ts', '--node-args=--import tsx', '--workers', '1', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--out', sb.unitDir], { cwd: api });
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /hypnode-api\.service/);
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);
  const start = await sb.systemctl('start', 'hypnode-api.service');
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  assert.equal((await get(port, '/')).body, '{"typed":true}');
  assert.equal((await sb.systemctl('reload', 'hypnode-api.service')).code, 0);
  assert.equal((await sb.systemctl('stop', 'hypnode-api.service')).code, 0);
});
