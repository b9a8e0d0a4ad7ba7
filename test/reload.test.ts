import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startLoad } from '../tools/load.js';
import { assertNoneLeft, exampleApp, freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';

// Issue #2, points 1 and 2: reloads under a mixed load drop nothing, and `hypnode reload`
// returns only once the new code answers every request.

test('reloads under mixed keep-alive, new-connection and slow load fail no request', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });

  const load = startLoad({ port, durationMs: 30_000, maxRequests: 200_000, keepAliveClients: 4, newConnectionClients: 4, slowEvery: 20 });
  const returns: { version: string; at: number }[] = [];
  await new Promise((r) => setTimeout(r, 500));
  for (const version of ['2', '3', '4']) {
    writeFileSync(join(dir, 'version.txt'), `${version}\n`);
    const r = await h.cli('reload');
    assert.equal(r.code, 0, `reload to ${version} failed: ${r.stderr}`);
    assert.match(r.stdout, /new code serves all\s+after/);
    returns.push({ version, at: Date.now() });
    await new Promise((r) => setTimeout(r, 400));
  }
  const result = await load.stop();

  t.diagnostic(`requests: ${result.total}, failed: ${result.failed}, versions: ${JSON.stringify(result.versions)}`);
  assert.deepEqual(result.failures, {}, 'no request may fail during a reload');
  assert.ok(result.total > 500, `the load ran (${result.total} requests)`);
  assert.ok(result.samples.some((s) => s.keepAlive) && result.samples.some((s) => !s.keepAlive));
  for (const v of ['1', '2', '3', '4']) assert.ok(result.versions[v], `version ${v} answered`);
  // Once `hypnode reload` has returned, no request that starts later is answered by older code.
  for (const { version, at } of returns) {
    const stale = result.samples.filter((s) => s.start > at && s.version !== null && Number(s.version) < Number(version));
    assert.equal(stale.length, 0, `${stale.length} requests started after the reload to ${version} returned were answered by older code`);
  }

  const before = h.pid;
  const status = await h.status();
  assert.equal(status.pid, before, 'the manager PID never changes');
  assert.equal(status.generation, 4);
  const r = await h.cli('stop');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await h.exited, 0);
  await assertNoneLeft(h);
});

test('a new version that throws at start fails the reload with its error and leaves the old serving', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });
  const before = await h.status();

  const good = await import('node:fs').then((fs) => fs.readFileSync(app, 'utf8'));
  writeFileSync(app, `throw new Error('database password missing (broken v2)');\n${good}`);
  const load = startLoad({ port, durationMs: 10_000, maxRequests: 50_000, keepAliveClients: 2, newConnectionClients: 2 });
  const r = await h.cli('reload', '--json');
  const result = await load.stop();

  assert.equal(r.code, 1, 'the reload fails');
  assert.match(r.stderr, /database password missing \(broken v2\)/, "the reload prints the new code's own error");
  assert.match(r.stderr, /old code keeps serving/);
  const failure = JSON.parse(r.stdout) as { ok: boolean; code: string; output: string; serving: { generation: number; ready: number } };
  assert.deepEqual([failure.ok, failure.code], [false, 'START_FAILED'], 'with --json, the code on stdout');
  assert.match(failure.output, /database password missing \(broken v2\)/);
  assert.deepEqual([failure.serving.generation, failure.serving.ready], [before.generation, 2]);
  assert.deepEqual(result.failures, {});
  assert.deepEqual(Object.keys(result.versions), ['1'], 'only the old code answered');
  const after = await h.status();
  assert.equal(after.generation, before.generation);
  assert.deepEqual(after.workers.map((w) => w.pid).sort(), before.workers.map((w) => w.pid).sort(), 'the old workers are untouched');
  assert.equal(after.lastReload?.ok, false);

  // The next good version reloads fine.
  writeFileSync(app, good);
  writeFileSync(app.replace(/app\.js$/, 'version.txt'), '2\n');
  const ok = await h.cli('reload');
  assert.equal(ok.code, 0, ok.stderr);
});

test('a new version that never becomes ready fails after the ready timeout', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1', '--ready-timeout', '1.5'], { env: { PORT: String(port) } });
  writeFileSync(app, "setInterval(() => {}, 1000); console.error('stuck connecting to the database');\n");
  const started = Date.now();
  const r = await h.cli('reload');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not ready within 1\.5s/);
  assert.match(r.stderr, /stuck connecting to the database/);
  assert.ok(Date.now() - started < 10_000);
  const s = await h.status();
  assert.equal(s.generation, 1);
  assert.equal(s.workers.length, 1, 'the new worker was torn down');
});

test('a reload during an upgrade, an upgrade during a reload: refused for now (exit 75, UPGRADING or BUSY), nothing failed', async (t) => {
  const dir = tempDir(t);
  const hold = join(dir, 'hold');
  const app = join(dir, 'app.mjs');
  // New workers wait while the hold file exists: the reload or upgrade runs until the test lets go.
  writeFileSync(app, `import http from 'node:http';
import { existsSync } from 'node:fs';
const listen = () => existsSync(${JSON.stringify(hold)}) ? setTimeout(listen, 50) : http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
listen();
`);
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(await freePort()) } });
  const refused = async (command: string, code: string, words: RegExp) => {
    const r = await h.cli(command, '--json');
    assert.equal(r.code, 75, `${command}: exit ${r.code}, ${r.stderr}`);
    assert.equal((JSON.parse(r.stdout) as { code: string }).code, code);
    assert.match(r.stderr, words);
  };
  const underWay = () => waitFor('it to be under way', async () => (await h.status()).reloading);

  writeFileSync(hold, '');
  const reload = h.cli('reload');
  await underWay();
  await refused('upgrade', 'BUSY', /upgrade failed: a reload runs; upgrade once it is done/);
  rmSync(hold);
  const reloaded = await reload;
  assert.equal(reloaded.code, 0, `the reload itself goes on: ${reloaded.stderr}`);

  writeFileSync(hold, '');
  const upgrade = h.cli('upgrade');
  await underWay();
  await refused('reload', 'UPGRADING', /reload failed: the manager itself is being upgraded; reload once that is done/);
  rmSync(hold);
  const upgraded = await upgrade;
  assert.equal(upgraded.code, 0, `the upgrade itself goes on: ${upgraded.stderr}`);
  const after = await h.status();
  h.seenPids.add(after.pid);
  assert.notEqual(after.pid, h.pid);
  assert.equal((await h.cli('stop')).code, 0);
});
