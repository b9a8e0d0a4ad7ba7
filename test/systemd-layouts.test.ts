import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test, type TestContext } from 'node:test';
import { builtExample, cannotBuild } from '../tools/frameworks.js';
import { deployBuilt } from './support/frameworks.js';
import { freePort, runCli } from './support/hypnode.js';
import { get } from './support/http.js';
import { startUserManager, systemdSkipReason } from './support/systemd.js';

// Issue #25, point 1: the unit `hypnode unit` writes runs each app layout as `hypnode start` run
// in the same directory would, under a real systemd: React Router 7's own server
// (`react-router-serve ./build/server/index.js`, examples/react-router built by the framework
// installer), which finds its build and its /assets/*.js by paths from the working directory,
// with node options from a config file by a relative path; and TypeScript run by tsx through
// `--node-args=--import tsx`.

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

/** Every script of the client bundle that a page loads. */
function scriptsOf(html: string): string[] {
  return [...new Set([...html.matchAll(/"(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]!))];
}

async function assertHydrates(port: number, version: string): Promise<void> {
  const page = await get(port, '/');
  assert.equal(page.status, 200, page.body);
  assert.match(page.body, new RegExp(`<h1>version <!-- -->${version}</h1>`), 'the loader ran in a worker of this version');
  assert.equal(page.headers['x-instrumented'], 'yes', "the config's --import ./instrument.mjs ran");
  const scripts = scriptsOf(page.body);
  assert.ok(scripts.length >= 3, `the page loads its client bundle: ${scripts.join(' ')}`);
  for (const script of scripts) {
    const asset = await get(port, script);
    assert.equal(asset.status, 200, `${script} is served`);
    assert.match(String(asset.headers['content-type']), /javascript/, `${script} is JavaScript`);
    assert.ok(asset.body.length > 0, `${script} is not empty`);
  }
}

test('React Router 7 (react-router-serve): its pages and /assets/*.js are served, a reload works', { skip, timeout: 600_000 }, async (t) => {
  const why = await cannotBuild('react-router');
  if (why) return t.skip(why);
  const built = await builtExample('react-router', (line) => t.diagnostic(line));
  const sb = await startUserManager(t);
  const shop = project(t, 'shop');
  deployBuilt(built.dir, shop, 'production');
  const port = await freePort();
  const runtime = join(shop, '../run');
  const config = (version: string) => writeFileSync(join(shop, 'hypnode.config.json'), JSON.stringify({ nodeArgs: ['--import', './instrument.mjs'], env: { PORT: String(port), HOST: '127.0.0.1', APP_VERSION: version } }));
  files(shop, {
    // As an APM agent's --import: every response says it went through here.
    'instrument.mjs': `import http from 'node:http';
const writeHead = http.ServerResponse.prototype.writeHead;
http.ServerResponse.prototype.writeHead = function (...args) {
  this.setHeader('x-instrumented', 'yes');
  return writeHead.apply(this, args);
};
`,
  });
  config('1');
  // The config gives where to listen and the version (its env is read again on each reload). The
  // config file beside the app would be node_modules/.bin's: this project's is named.
  const made = await runCli(['unit', 'react-router-serve', '--config', 'hypnode.config.json', '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--out', sb.unitDir, '--', './build/server/index.js'], { cwd: shop });
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /hypnode-shop\.service/, 'named by the project, not by the script');
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);
  const start = await sb.systemctl('start', 'hypnode-shop.service');
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  await assertHydrates(port, '1');
  config('2');
  const reload = await sb.systemctl('reload', 'hypnode-shop.service');
  assert.equal(reload.code, 0, reload.stderr + sb.managerLog());
  await assertHydrates(port, '2');
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
