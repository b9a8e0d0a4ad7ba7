import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startLoad } from '../tools/load.js';
import { freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';

const body = async (port: number) => (await get(port)).body;

// Issue #11: what operators do on every deploy. Symlinked releases flipped under a running
// instance, environment files read again on reload, and a slot number per worker.

const INDEX = new URL('../src/index.js', import.meta.url).href;

/**
 * A release: the app reads its version from its working directory, a greeting from a module
 * beside it, and its release number from the config file's env (all three must follow the flip).
 */
function release(root: string, n: number): void {
  const dir = join(root, 'releases', String(n));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'app.mjs'),
    `import http from 'node:http';
import { readFileSync } from 'node:fs';
import { greeting } from './lib.mjs';
const version = readFileSync('version.txt', 'utf8').trim();
http.createServer((req, res) => {
  res.setHeader('x-version', version);
  res.setHeader('x-pid', String(process.pid));
  const reply = () => res.end(greeting + ' ' + process.env.RELEASE + ' ' + process.cwd());
  if (req.url === '/slow') setTimeout(reply, 300); else reply();
}).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  writeFileSync(join(dir, 'lib.mjs'), `export const greeting = 'release-${n}';\n`);
  writeFileSync(join(dir, 'version.txt'), `${n}\n`);
  writeFileSync(join(dir, 'hypnode.config.json'), JSON.stringify({ env: { RELEASE: String(n) } }));
}

/** As Capistrano and friends do it: a new link, renamed over `current` (atomic). */
function flip(root: string, n: number): void {
  symlinkSync(join('releases', String(n)), join(root, 'current.new'));
  renameSync(join(root, 'current.new'), join(root, 'current'));
}


test('symlinked releases: each reload serves the release `current` points to, under load; old releases can go', async (t) => {
  const root = tempDir(t);
  for (const n of [1, 2, 3]) release(root, n);
  flip(root, 1);
  const current = join(root, 'current');
  const port = await freePort();
  const h = await startHypnode(t, join(current, 'app.mjs'), ['--workers', '2'], { env: { PORT: String(port) }, cwd: current });
  assert.equal(await body(port), `release-1 1 ${join(root, 'releases', '1')}`);

  const load = startLoad({ port, durationMs: 60_000, maxRequests: 200_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  for (const n of [2, 3]) {
    flip(root, n);
    const r = await h.cli('reload');
    assert.equal(r.code, 0, `reload to release ${n}: ${r.stderr}`);
    // Once the reload has returned, only the new release answers.
    for (let i = 0; i < 10; i++) assert.equal(await body(port), `release-${n} ${n} ${join(root, 'releases', String(n))}`);
    const s = await h.status();
    assert.equal(s.app, join(current, 'app.mjs'), 'the instance keeps the name it was started by');
    assert.deepEqual(s.generations.map((g) => g.app), [join(root, 'releases', String(n), 'app.mjs')], 'status names the release');
  }
  const result = await load.stop();
  assert.deepEqual(result.failures, {}, 'no request failed across two flips');
  for (const v of ['1', '2', '3']) assert.ok(result.versions[v], `release ${v} answered: ${JSON.stringify(result.versions)}`);

  // Old releases removed, as deploy tools prune them: the next reload and the stop still work.
  rmSync(join(root, 'releases', '1'), { recursive: true });
  rmSync(join(root, 'releases', '2'), { recursive: true });
  const again = await h.cli('reload');
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await h.cli('stop')).code, 0);
  assert.equal(await h.exited, 0);
});

test('--env-file is read again on every reload; a bad or missing file fails the reload naming it, and the old code serves on', async (t) => {
  const dir = tempDir(t);
  writeFileSync(
    join(dir, 'app.mjs'),
    `import http from 'node:http';
http.createServer((req, res) => res.end(process.env.GREETING + ' ' + process.env.FROM_SHELL)).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  const env = join(dir, 'app.env');
  writeFileSync(env, '# the greeting\nGREETING=hello\nFROM_SHELL=file\n');
  const port = await freePort();
  // Relative to where hypnode started; the manager's own environment wins, as with node's --env-file.
  const h = await startHypnode(t, join(dir, 'app.mjs'), ['--workers', '1', '--env-file', 'app.env'], { env: { PORT: String(port), FROM_SHELL: 'shell' }, cwd: dir });
  assert.equal(await body(port), 'hello shell');

  writeFileSync(env, 'GREETING="bonjour\ntout le monde"\n');
  assert.equal((await h.cli('reload')).code, 0);
  assert.equal(await body(port), 'bonjour\ntout le monde shell');

  writeFileSync(env, 'GREETING=hallo\nthis line has no equals sign\n');
  const bad = await h.cli('reload');
  assert.equal(bad.code, 2, 'bad input (BAD_INPUT): exit 2, as on the command line');
  assert.match(bad.stderr, /env file .*app\.env, line 2: expected KEY=VALUE, found no "="/);
  assert.match(bad.stderr, /the old code keeps serving/);
  assert.equal(await body(port), 'bonjour\ntout le monde shell');

  rmSync(env);
  const missing = await h.cli('reload');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /env file .*app\.env cannot be read: ENOENT/);
  assert.equal(await body(port), 'bonjour\ntout le monde shell');
});

function slotApp(t: TestContext): string {
  const dir = tempDir(t);
  writeFileSync(
    join(dir, 'app.mjs'),
    `import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { workerIndex, onDrain } from '${INDEX}';
// The scheduled job runs on slot 0 only, and stops when its worker drains.
const job = workerIndex() === 0 ? setInterval(() => {}, 1000) : null;
onDrain(() => job && clearInterval(job));
const me = JSON.stringify({ index: workerIndex(), env: process.env.HYPNODE_WORKER_INDEX, pm2: process.env.NODE_APP_INSTANCE, job: job !== null });
// Each worker says who it is in a file of its own: which worker a connection reaches is the kernel's choice.
writeFileSync(new URL(\`./worker-\${process.pid}.json\`, import.meta.url), me);
http.createServer((req, res) => res.end(me)).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  return join(dir, 'app.mjs');
}

test('each worker has a slot 0..N-1 (HYPNODE_WORKER_INDEX, NODE_APP_INSTANCE, workerIndex()); a replacement takes the slot it replaces', async (t) => {
  const port = await freePort();
  const app = slotApp(t);
  const h = await startHypnode(t, app, ['--workers', '3'], { env: { PORT: String(port) } });
  const workers = (await h.status()).workers;
  assert.deepEqual(workers.map((w) => w.slot).sort(), [0, 1, 2]);
  assert.equal(JSON.parse(await body(port)).env !== undefined, true, 'the app answers');
  for (const w of workers) {
    const reply = JSON.parse(readFileSync(join(dirname(app), `worker-${w.pid}.json`), 'utf8')) as { index: number; env: string; pm2: string; job: boolean };
    assert.equal(reply.index, w.slot, `worker ${w.pid}: workerIndex() is its slot`);
    assert.equal(reply.env, String(w.slot));
    assert.equal(reply.pm2, String(w.slot));
    assert.equal(reply.job, w.slot === 0, 'the job runs on slot 0 alone');
  }

  const victim = (await h.status()).workers.find((w) => w.slot === 1)!;
  process.kill(victim.pid, 'SIGKILL');
  const after = await waitFor('a replacement in slot 1', async () => {
    const s = await h.status();
    return s.workersReady === 3 && !s.workers.some((w) => w.pid === victim.pid) ? s : null;
  });
  assert.deepEqual(after.workers.map((w) => w.slot).sort(), [0, 1, 2]);

  // A reload: the new generation has the same slots; old slot 0 drains while new slot 0 starts.
  assert.equal((await h.cli('reload')).code, 0);
  const reloaded = await h.status();
  assert.deepEqual(reloaded.workers.map((w) => `${w.generation}:${w.slot}`).sort(), ['2:0', '2:1', '2:2']);
});
