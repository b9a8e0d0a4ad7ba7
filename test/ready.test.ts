import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startLoad } from '../tools/load.js';
import { alive, freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #10: ready means ready. A worker counts as ready only once its app answered a real
// request; a new worker takes no connection before that; a new worker that dies soon after the
// switch fails the reload and the old code serves again; and no report says more than is true.

/**
 * An app that listens first and loads its handlers afterwards, as `next start` does: a version
 * whose name says `broken` dies there, after listen(), as Next.js does of a bad next.config.
 * A version saying `503` answers 503 on / (but 200 on /healthz); one saying `dies` exits 600 ms
 * after it listened, having answered requests meanwhile. With a file named dead beside it, it exits at once.
 */
const LISTEN_THEN_LOAD = `
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
if (existsSync(new URL('./dead', import.meta.url))) process.exit(1);
const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const loaded = new Promise((resolve) => setTimeout(() => {
  if (version.includes('broken')) {
    console.error('Failed to load app.config.mjs: ' + version);
    process.exit(1);
  }
  resolve((req, res) => {
    res.setHeader('x-version', version);
    res.setHeader('x-pid', String(process.pid));
    if (req.url === '/' && version.includes('503')) res.statusCode = 503;
    if (req.url === '/slow') return void setTimeout(() => res.end('slow'), 300);
    res.end(version);
  });
}, 250));
http.createServer(async (req, res) => (await loaded)(req, res)).listen(Number(process.env.PORT), '127.0.0.1', () => {
  if (version.includes('dies')) setTimeout(() => process.exit(3), 600);
});
`;

function app(t: TestContext): { dir: string; app: string; version(v: string): void } {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'app.mjs'), LISTEN_THEN_LOAD);
  const version = (v: string) => writeFileSync(join(dir, 'version.txt'), `${v}\n`);
  version('1');
  return { dir, app: join(dir, 'app.mjs'), version };
}


test('an app that listens and then dies while it loads is refused 10 times out of 10, under load, failing no request', async (t) => {
  const a = app(t);
  const port = await freePort();
  const h = await startHypnode(t, a.app, ['--workers', '2'], { env: { PORT: String(port) } });
  const before = (await h.status()).workers.map((w) => w.pid).sort();
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 200_000, keepAliveClients: 2, newConnectionClients: 2, slowEvery: 20 });
  for (let i = 1; i <= 10; i++) {
    a.version(`broken-${i}`);
    const r = await h.cli('reload');
    assert.equal(r.code, 1, `broken deploy ${i} must fail the reload: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, new RegExp(`Failed to load app\\.config\\.mjs: broken-${i}`), "the reload shows the new code's own error");
    assert.match(r.stderr, /exited with code 1 before it was ready/);
    assert.match(r.stderr, /the old code keeps serving \(generation 1, 2\/2 workers ready\)/);
    const s = await h.status();
    assert.equal(s.state, 'serving');
    assert.equal(s.workersReady, 2);
    assert.equal(s.lastReload?.ok, false);
  }
  const result = await load.stop();
  assert.deepEqual(result.failures, {}, 'no request failed: the dying new workers never took a connection');
  assert.deepEqual(Object.keys(result.versions), ['1'], 'only the old code answered');
  assert.deepEqual((await h.status()).workers.map((w) => w.pid).sort(), before, 'the old workers were never touched');

  a.version('2');
  const ok = await h.cli('reload');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal((await get(port)).version, '2');
});

test('a 5xx from the readiness probe fails the reload; --ready-path picks the path; "off" trusts listening alone', async (t) => {
  const a = app(t);
  const port = await freePort();
  const h = await startHypnode(t, a.app, ['--workers', '1'], { env: { PORT: String(port) } });
  a.version('2-503');
  const refused = await h.cli('reload');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the readiness probe GET \/ was answered 503/);
  assert.equal((await get(port)).version, '1');

  // The config file is read again on reload: the probe asks /healthz, which answers 200.
  writeFileSync(join(a.dir, 'hypnode.config.json'), '{"readyPath": "/healthz"}');
  const healthz = await h.cli('reload');
  assert.equal(healthz.code, 0, healthz.stderr);
  assert.equal((await get(port, '/healthz')).version, '2-503');

  // Without the probe (and without probation), listening counts: the broken code goes live.
  writeFileSync(join(a.dir, 'hypnode.config.json'), '{"readyPath": "off", "probation": 0}');
  a.version('3-broken');
  const blind = await h.cli('reload');
  assert.equal(blind.code, 0, 'with the probe off, a listening worker is ready');
  // ...and then dies: the status says so, never "serving" without a ready worker.
  const failing = await waitFor('the crash loop to show', async () => {
    const s = await h.status();
    return s.state === 'failing' ? s : null;
  });
  assert.equal(failing.workersReady, 0);
  assert.match(failing.lastCrash?.message ?? '', /exited with code 1 0\.\d\d s after it was ready/);
  // From now on its replacements die at boot: generation 3 never has a ready worker again.
  writeFileSync(join(a.dir, 'dead'), '');
  await waitFor('a replacement to die at boot', async () => /before it was ready/.test((await h.status()).lastCrash?.message ?? ''), 20_000);
  writeFileSync(join(a.dir, 'hypnode.config.json'), '{}');
  a.version('4-broken');
  const next = await h.cli('reload');
  assert.equal(next.code, 1);
  assert.match(next.stderr, /nothing serves: generation \d+ has no ready worker/, 'no claim that old code serves when none does');
  assert.doesNotMatch(next.stderr, /old code keeps serving/);
});

test('a new worker that dies within its probation fails the reload, and the old workers accept again', async (t) => {
  const a = app(t);
  const port = await freePort();
  // A probation far longer than a reload takes even on a busy machine: a reload that waited for
  // its end could not fail within it.
  const h = await startHypnode(t, a.app, ['--workers', '2', '--probation', '60'], { env: { PORT: String(port) } });
  const before = (await h.status()).workers.map((w) => w.pid).sort();
  a.version('2-dies');
  const started = Date.now();
  const r = await h.cli('reload');
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /worker \d+ \(generation 2\) exited with code 3 0\.\d\d s after it was ready, within its 60 s probation/);
  assert.match(r.stderr, /generation 1 accepts again/);
  assert.match(r.stderr, /the old code keeps serving \(generation 1, 2\/2 workers ready\)/);
  assert.ok(Date.now() - started < 60_000, 'the reload fails as soon as the worker dies, not at the end of the probation');
  const s = await h.status();
  assert.equal(s.generation, 1);
  assert.equal(s.state, 'serving');
  assert.deepEqual(s.workers.filter((w) => w.generation === 1 && w.state === 'ready').map((w) => w.pid).sort(), before, 'the same old workers serve again');
  assert.equal(s.lastReload?.ok, false);
  for (let i = 0; i < 20; i++) assert.equal((await get(port)).version, '1', 'every new connection reaches the old code');
  await waitFor('the failed generation to be gone', async () => !(await h.status()).workers.some((w) => w.generation === 2));
});

test('a reload returns only after its probation, and the old workers linger until then', async (t) => {
  const a = app(t);
  const port = await freePort();
  const h = await startHypnode(t, a.app, ['--workers', '1', '--probation', '1.5'], { env: { PORT: String(port) } });
  const [old] = (await h.status()).workers;
  a.version('2');
  const started = Date.now();
  const reload = h.cli('reload');
  const lingering = await waitFor('the old worker to have drained', async () => {
    const s = await h.status();
    return s.workers.find((w) => w.pid === old!.pid && w.state === 'drained');
  });
  assert.ok(lingering, 'a drained old worker waits for the probation to end');
  assert.equal((await get(port)).version, '2');
  const r = await reload;
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - started >= 1500, 'not before the probation ended');
  await waitFor('the old worker to exit', () => !alive(old!.pid));
});

test('hypnode stop returns only once the manager has exited', async (t) => {
  const a = app(t);
  const h = await startHypnode(t, a.app, ['--workers', '2'], { env: { PORT: String(await freePort()) } });
  const r = await h.cli('stop');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(alive(h.pid), false, 'the manager is gone when stop returns');
  assert.equal(await h.exited, 0);
});
