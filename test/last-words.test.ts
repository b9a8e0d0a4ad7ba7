import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { freePort, startHypnode, tempDir, waitFor, type Hypnode } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #22, point 5: the last lines a worker wrote before it died (once ready, it writes them to
// the sinks itself) are in a failed reload's message and in `status --json` `lastCrash.output`,
// never the output marker; a death for want of memory says so, with the memory it held.

/**
 * Answers GET / with its version; GET /exit writes a FATAL line and exits, /throw throws from a
 * callback, /hang writes a FATAL line and never returns, /heap fills the V8 heap, /rss fills
 * memory outside it. Version `dies` does as /exit
 * 300 ms after it listened.
 */
const APP = `
import http from 'node:http';
import { readFileSync } from 'node:fs';
const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const hoard = [];
const die = (why) => { console.log('serving since a while'); console.error('FATAL: ' + why); process.exit(1); };
http.createServer((req, res) => {
  if (req.url === '/exit') return die('the database is gone');
  if (req.url === '/throw') return void setImmediate(() => { console.log('about to throw'); throw new Error('FATAL: thrown'); });
  if (req.url === '/heap') for (;;) hoard.push(new Array(1e5).fill({ version }));
  if (req.url === '/hang') { console.log('a line of stdout, kept for the turn'); console.error('FATAL: stuck in a loop'); for (;;); }
  if (req.url === '/rss') return void setInterval(() => hoard.push(Buffer.alloc(16 * 1048576, 1)), 5);
  res.setHeader('x-version', version);
  res.end(version);
}).listen(Number(process.env.PORT), '127.0.0.1', () => {
  if (version === 'dies') setTimeout(() => die('version dies'), 300);
});
`;

function app(t: TestContext): { dir: string; app: string; version(v: string): void } {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'app.mjs'), APP);
  const version = (v: string) => writeFileSync(join(dir, 'version.txt'), `${v}\n`);
  version('1');
  return { dir, app: join(dir, 'app.mjs'), version };
}

async function crashAfter(h: Hypnode, port: number, path: string): Promise<NonNullable<Awaited<ReturnType<Hypnode['status']>>['lastCrash']>> {
  await get(port, path).catch(() => null); // the worker dies with the request
  return waitFor(`a crash after GET ${path}`, async () => (await h.status()).lastCrash, 30_000, 100);
}

test('a ready worker that exits or throws leaves its last lines in lastCrash.output, never the marker', async (t) => {
  const a = app(t);
  const port = await freePort();
  const h = await startHypnode(t, a.app, ['--workers', '1'], { env: { PORT: String(port) } });
  const exited = await crashAfter(h, port, '/exit');
  assert.match(exited.message, /exited with code 1 [\d.]+ s after it was ready/);
  assert.match(exited.output, /serving since a while\nFATAL: the database is gone\n$/);
  assert.doesNotMatch(exited.output, /\0|write-directly|last-words/);

  await h.waitServing(30_000);
  const thrown = await crashAfter(h, port, '/throw');
  assert.match(thrown.output, /about to throw\n[^]*Error: FATAL: thrown/, "the app's line, then the runtime's report of the exception");
  assert.doesNotMatch(thrown.output, /\0|write-directly|last-words/);
  assert.ok(h.output.includes('FATAL: the database is gone'), 'the lines are in the log too');
  assert.equal(h.output.split('FATAL: the database is gone').length, 2, 'once');
});

test('an error written just before the event loop hangs is in the log, though the heartbeat timeout kills the worker', async (t) => {
  const a = app(t);
  const port = await freePort();
  const h = await startHypnode(t, a.app, ['--workers', '1', '--heartbeat-interval', '0.2', '--heartbeat-timeout', '2'], { env: { PORT: String(port) } });
  const [worker] = (await h.status()).workers;
  const hung = await crashAfter(h, port, '/hang');
  assert.match(hung.message, /heartbeat|killed/, hung.message);
  // stderr is unbuffered (see OutputQueue.text): the line left before the loop began.
  assert.match(h.output, new RegExp(`^\\[g1 ${worker!.pid}\\] FATAL: stuck in a loop$`, 'm'));
});

test("a new worker dying in its probation fails the reload with the app's own last line", async (t) => {
  const a = app(t);
  const port = await freePort();
  const h = await startHypnode(t, a.app, ['--workers', '1', '--probation', '30'], { env: { PORT: String(port) } });
  a.version('dies');
  const r = await h.cli('reload');
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /exited with code 1 [\d.]+ s after it was ready, within its 30 s probation/);
  assert.match(r.stderr, /FATAL: version dies/);
  assert.doesNotMatch(r.stderr, /\0|write-directly|last-words/);
  assert.equal((await get(port)).version, '1');
});

test('a worker out of V8 heap is said to be out of memory', async (t) => {
  const a = app(t);
  const port = await freePort();
  const h = await startHypnode(t, a.app, ['--workers', '1', '--node-args=--max-old-space-size=24'], { env: { PORT: String(port) } });
  const crash = await crashAfter(h, port, '/heap');
  assert.match(crash.message, /ran out of memory \(V8 heap, see --max-old-space-size\): (killed by SIG[A-Z]+|exited with code \d+)/);
  assert.match(crash.output, /JavaScript heap out of memory/);
});

test("a worker the kernel's OOM killer ends is said to be out of memory, with what it held", async (t) => {
  const group = memoryGroup(400 * 1048576);
  if (!group) return t.skip('no writable cgroup v1 memory controller here');
  const a = app(t);
  const port = await freePort();
  const h = await startHypnode(t, a.app, ['--workers', '1', '--heartbeat-interval', '0.1'], { env: { PORT: String(port) } });
  t.after(async () => {
    await h.cleanup();
    await waitFor('the memory cgroup to empty', () => readFileSync(join(group, 'cgroup.procs'), 'utf8').trim() === '', 10_000).catch(() => {});
    rmdirSync(group);
  });
  // The manager moves in; the workers of the reload are born there.
  writeFileSync(join(group, 'cgroup.procs'), String(h.pid));
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  const crash = await crashAfter(h, port, '/rss');
  assert.match(crash.message, /ran out of memory: killed by the kernel's OOM killer \(SIGKILL\) holding \d+ MiB \(its last known RSS\)/);
});

/** A memory cgroup (v1) under this process's own, limited to `bytes` (swap included, where counted); null where none can be made. */
function memoryGroup(bytes: number): string | null {
  const own = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  if (own === undefined) return null;
  const dir = join('/sys/fs/cgroup/memory', own, `hypnode-test-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(dir);
  } catch {
    return null;
  }
  writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
  try {
    writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes));
  } catch {
    // no swap accounting: the limit above is all
  }
  return dir;
}
