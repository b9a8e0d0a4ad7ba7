import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { bootCrashApp } from './support/boot-crash.js';
import { quickStatus } from './support/faults.js';
import { freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #22, point 1: after a reload that exits 0, only the new generation's workers exist and
// serve, whatever the old one was doing: here a first generation that never served, crashing at
// boot and backing off, with a respawn pending when the reload comes; and one that an earlier
// reload, failed in its probation, left draining.

for (const batched of [false, true]) {
  test(`a reload that exits 0 leaves no worker of a generation that never served, even past its longest pending backoff${batched ? ' (batched)' : ''}`, async (t) => {
    const { dir, app } = bootCrashApp(t);
    const port = await freePort();
    const h = await startHypnode(t, app, ['--workers', '2', '--start-tries', '0', '--probation', '0.5', ...(batched ? ['--reload-batch', '1'] : [])], { env: { PORT: String(port) }, wait: false });
    const backoffs = () => [...h.output.matchAll(/\(generation 1\)[^\n]*starting another in (\d+) ms/g)].map((m) => Number(m[1]));
    // Crashed a few times in a row: its next respawns wait, and one is pending when the reload comes.
    await waitFor('generation 1 to back off', () => backoffs().length >= 3, 30_000);

    rmSync(join(dir, 'broken'));
    writeFileSync(join(dir, 'version.txt'), '2\n');
    const r = await h.cli('reload');
    assert.equal(r.code, 0, r.stderr);
    const reloadedAt = Date.now();
    const onlyGeneration2 = async (when: string) => {
      const s = await quickStatus(h);
      assert.deepEqual(s.generations.map((g) => g.id), [2], `${when}: generations ${JSON.stringify(s.generations)}`);
      assert.deepEqual(s.workers.map((w) => w.generation), [2, 2], `${when}: workers ${JSON.stringify(s.workers)}`);
      const pids = new Set(s.workers.map((w) => w.pid));
      for (let i = 0; i < 12; i++) {
        const a = await get(port);
        assert.equal(a.version, '2', `${when}: answered by version ${a.version} (pid ${a.pid})`);
        assert.ok(pids.has(a.pid), `${when}: answered by pid ${a.pid}, not one of generation 2's ${[...pids].join(', ')}`);
      }
    };
    await onlyGeneration2('at once');
    // Every respawn generation 1 ever announced was due before this (each counts from its crash,
    // which came before the reload ended); a second more for a stray worker to show up.
    await waitFor('the longest backoff of generation 1 to pass', () => Date.now() > reloadedAt + Math.max(...backoffs()) + 1000, 20_000);
    await onlyGeneration2(`${Date.now() - reloadedAt} ms later (longest backoff ${Math.max(...backoffs())} ms)`);
  });
}

/**
 * Version 2's worker in slot 1 dies when asked (/die), within its probation; /hold sends its
 * headers at once (naming the worker) and its body once a file \`release\` lies beside the app,
 * keeping a draining worker busy until then.
 */
const PROBATION_APP = `
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
http.createServer((req, res) => {
  res.setHeader('x-version', version);
  res.setHeader('x-pid', String(process.pid));
  if (req.url === '/die' && version === '2' && process.env.HYPNODE_WORKER_INDEX === '1') process.exit(3);
  if (req.url !== '/hold') return res.end('version ' + version + '\\n');
  res.flushHeaders();
  const poll = setInterval(() => existsSync(new URL('./release', import.meta.url)) && (clearInterval(poll), res.end('held\\n')), 50);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

/** A /hold request: resolves with the pid that took it once its headers came, and its body (and when it ended) later. */
function hold(port: number): Promise<{ pid: number; body: Promise<{ text: string; at: number }> }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/hold', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      const whole = new Promise<{ text: string; at: number }>((done, fail) => res.on('end', () => done({ text: body, at: Date.now() })).on('error', fail));
      whole.catch(() => {}); // those held by the worker that dies are cut: only the survivor's is awaited
      resolve({ pid: Number(res.headers['x-pid']), body: whole });
    }).on('error', reject);
  });
}

test('a reload that exits 0 has waited out the draining workers of an earlier reload that failed in its probation', async (t) => {
  const dir = tempDir(t, 'hypnode-probation-');
  const app = join(dir, 'app.mjs');
  writeFileSync(app, PROBATION_APP);
  writeFileSync(join(dir, 'version.txt'), '1\n');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });
  // A long probation for version 2, time to kill one of its workers in it; none for version 3.
  writeFileSync(join(dir, 'hypnode.config.json'), '{"probation": 30}');
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const failing = h.cli('reload');
  const gen2 = await waitFor('generation 2 to take over', async () => {
    const s = await quickStatus(h);
    return s.generation === 2 && s.workersReady === 2 ? s : null;
  }, 30_000);
  const survivor = gen2.workers.find((w) => w.generation === 2 && w.slot === 0)!.pid;
  // A request held by generation 2's worker that will not die: it keeps that worker draining.
  let held: Awaited<ReturnType<typeof hold>> | null = null;
  for (let i = 0; i < 50 && held?.pid !== survivor; i++) held = await hold(port);
  assert.equal(held?.pid, survivor, 'a /hold request reached the surviving worker');
  await waitFor('the worker in slot 1 to die', async () => (await get(port, '/die').catch(() => null), !(await quickStatus(h)).workers.some((w) => w.generation === 2 && w.slot === 1)));
  assert.equal((await failing).code, 1);
  assert.ok((await quickStatus(h)).workers.some((w) => w.pid === survivor && w.state === 'draining'), 'generation 2 drains its held request');

  writeFileSync(join(dir, 'hypnode.config.json'), '{"probation": 0}');
  writeFileSync(join(dir, 'version.txt'), '3\n');
  const reload = h.cli('reload').then((r) => ({ ...r, at: Date.now() }));
  // Generation 3 serves and generation 1 is gone: all that is left is generation 2's drain.
  await waitFor('generation 1 to be gone', async () => {
    const s = await quickStatus(h);
    return s.generation === 3 && !s.workers.some((w) => w.generation === 1);
  }, 30_000);
  writeFileSync(join(dir, 'release'), '');
  const r = await reload;
  assert.equal(r.code, 0, r.stderr);
  const body = await held!.body;
  assert.equal(body.text, 'held\n', 'the held request was finished, not cut');
  assert.ok(body.at <= r.at, 'the reload returned only after generation 2 finished its request');
  const s = await quickStatus(h);
  assert.deepEqual(s.generations.map((g) => g.id), [3], JSON.stringify(s.generations));
  assert.deepEqual(s.workers.map((w) => w.generation), [3, 3]);
});
