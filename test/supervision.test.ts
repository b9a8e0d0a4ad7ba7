import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startLoad } from '../tools/load.js';
import { faultApp, quickStatus, sleep } from './support/faults.js';
import { alive, assertNoneLeft, exampleApp, freePort, startHypnode, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #2, points 4 to 6: reloads coalesce, crashed and hung workers are replaced, workers
// never outlive the manager, and the manager's PID (and PID file) never change.


test('reload requests never overlap: concurrent ones coalesce into at most one more run', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  // A slow boot keeps the first reload running while the other requests arrive.
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port), BOOT_DELAY_MS: '1500' } });
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const results = await Promise.all(Array.from({ length: 6 }, () => h.cli('reload')));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const s = await h.status();
  assert.ok(s.generation! <= 3, `6 concurrent reloads made generation ${s.generation}; at most 2 runs expected`);
  assert.ok(s.generation! >= 2);
  assert.equal((await get(port)).version, '2');
});

test('a worker killed by SIGKILL is replaced and the others keep serving', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });
  const before = await h.status();
  const victim = before.workers[0]!.pid;
  process.kill(victim, 'SIGKILL');
  const after = await waitFor('a replacement worker', async () => {
    const s = await h.status();
    return s.workersReady === 2 && !s.workers.some((w) => w.pid === victim) ? s : null;
  });
  assert.equal(after.generation, before.generation);
  assert.match(after.lastCrash?.message ?? '', /was killed by SIGKILL/);
  assert.equal((await get(port)).status, 200);
});

test('a worker whose event loop hangs is killed and replaced after the heartbeat timeout', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1', '--heartbeat-interval', '0.2', '--heartbeat-timeout', '1'], { env: { PORT: String(port) } });
  const [worker] = (await h.status()).workers;
  process.kill(worker!.pid, 'SIGSTOP');
  await waitFor('the hung worker to be replaced', async () => {
    const s = await h.status();
    return !alive(worker!.pid) && !s.workers.some((w) => w.pid === worker!.pid) && s.workersReady === 1 ? s : null;
  });
  assert.match(h.output, /sent no heartbeat/);
  assert.equal((await get(port)).status, 200);
});

test('when the manager dies, every worker exits by itself (within its 1 s orphan deadline)', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });
  const pids = (await h.status()).workers.map((w) => w.pid);
  process.kill(h.pid, 'SIGKILL');
  await h.exited;
  const died = Date.now();
  // The deadline is the worker's own; how soon a busy machine runs it is not: the wait only
  // guards against a worker that never exits, and the time is told.
  await waitFor('the orphaned workers to exit', () => pids.every((p) => !alive(p)), 60_000);
  t.diagnostic(`the workers exited ${Date.now() - died} ms after the manager`);
});

test("a terminal's quit key (SIGQUIT to the job's process group) reaches the manager alone, which drains; workers stay in its session", async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) }, job: true });
  const manager = processIds(h.pid);
  for (const w of (await h.status()).workers) {
    const worker = processIds(w.pid);
    // A session of its own would put the worker in a scheduler autogroup of its own (a cost in
    // throughput, see native/); a process group of its own keeps the terminal's signals away.
    assert.equal(worker.session, manager.session, `worker ${w.pid} is in the manager's session`);
    assert.equal(worker.group, w.pid, `worker ${w.pid} leads a process group of its own`);
  }
  const inFlight = get(port, '/sleep?ms=1500');
  await waitFor('the request to arrive', async () => (await quickStatus(h)).workers.some((w) => w.connections === 1));
  process.kill(-h.pid, 'SIGQUIT'); // what Ctrl-\ does: the whole foreground process group gets it
  assert.equal((await inFlight).status, 200, 'the request in flight finished');
  assert.equal(await h.exited, 0);
  await assertNoneLeft(h);
});

/** A process's group and session, from /proc (the fields after the parenthesised name). */
function processIds(pid: number): { group: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const [, , group, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { group: Number(group), session: Number(session) };
}

test('code that crashes at boot is retried with backoff, the manager keeps running, and a reload to good code recovers', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const good = readFileSync(app, 'utf8');
  writeFileSync(app, "throw new Error('boom at boot');\n");
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) }, wait: false });
  // The manager's own word on each crash, not a count within a time: each respawn in a row waits
  // twice as long as the one before (the first is at once); without backoff, a fork storm.
  const delays = await waitFor('six crashes in a row', () => {
    const said = [...h.output.matchAll(/exited with code 1 before it was ready; starting another(?: in (\d+) ms)?/g)].map((m) => Number(m[1] ?? 0));
    return said.length >= 6 ? said.slice(0, 6) : null;
  }, 120_000);
  t.diagnostic(`respawn delays: ${delays.join(', ')} ms`);
  assert.equal(delays[0], 0, 'the first crash is replaced at once');
  for (let i = 2; i < delays.length; i++) assert.ok(delays[i]! >= 2 * delays[i - 1]! && delays[1]! > 0, `respawn delays ${delays.join(', ')} ms do not back off`);
  const s = await h.status();
  assert.equal(s.state, 'failing', 'crashing before it ever served: failing, not starting');
  assert.match(s.lastCrash?.output ?? '', /boom at boot/);

  writeFileSync(app, good);
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await h.status()).state, 'serving');
  assert.equal((await get(port)).status, 200);
});

test('PID file holds the manager PID across reloads and is removed on stop; HUP reloads; TERM drains', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const pidFile = join(dir, 'hypnode.pid');
  const h = await startHypnode(t, app, ['--workers', '2', '--pid-file', pidFile], { env: { PORT: String(port) } });
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(h.pid));

  writeFileSync(join(dir, 'version.txt'), '2\n');
  process.kill(h.pid, 'SIGHUP');
  await waitFor('the HUP reload', async () => (await h.status()).lastReload?.ok === true);
  assert.equal((await get(port)).version, '2');
  assert.equal(readFileSync(pidFile, 'utf8').trim(), String(h.pid), 'the PID file never changes');

  process.kill(h.pid, 'SIGTTIN');
  await waitFor('a third worker', async () => (await h.status()).workersReady === 3);
  process.kill(h.pid, 'SIGTTOU');
  await waitFor('back to two workers', async () => (await h.status()).workers.length === 2);

  // A slow request in flight when TERM arrives still gets its answer.
  await h.status();
  const slow = get(port, '/slow');
  await new Promise((r) => setTimeout(r, 50));
  process.kill(h.pid, 'SIGTERM');
  assert.equal((await slow).status, 200);
  assert.equal(await h.exited, 0);
  assert.equal(existsSync(pidFile), false, 'the PID file is removed on exit');
  await assertNoneLeft(h);
});

test('--accepts and --max-rss replace a worker gracefully: its successor is ready first, no request fails', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1', '--accepts', '20'], { env: { PORT: String(port) } });
  const load = startLoad({ port, durationMs: 20_000, maxRequests: 400, keepAliveClients: 0, newConnectionClients: 2, slowEvery: 10 });
  // Whenever a worker is seen draining, its successor in the same slot already serves.
  const seen = new Set<number>();
  let draining = 0;
  for (const deadline = Date.now() + 20_000; draining < 2 && Date.now() < deadline; ) {
    const s = await quickStatus(h);
    for (const w of s.workers) {
      if (w.state !== 'draining' || seen.has(w.pid)) continue;
      seen.add(w.pid);
      draining++;
      const successor = s.workers.find((x) => x.slot === w.slot && x.pid !== w.pid);
      assert.equal(successor?.state, 'ready', `worker ${w.pid} drains only once its successor serves: ${JSON.stringify(s.workers)}`);
    }
    if ((await Promise.race([load.done, sleep(10)])) !== undefined) break;
  }
  const result = await load.stop();
  assert.ok(draining >= 2, `two recycles seen (${draining})`);
  assert.deepEqual(result.failures, {}, `no request failed across the recycles (${result.total} requests)`);
  assert.match(h.output, /replacing worker \d+ \(generation 1\): accepted 20 connections/);

  const m = exampleApp(t, 'hello');
  const mport = await freePort();
  const hm = await startHypnode(t, m.app, ['--workers', '1', '--max-rss', '1', '--heartbeat-interval', '0.2'], { env: { PORT: String(mport) } });
  const mload = startLoad({ port: mport, durationMs: 3000, maxRequests: 2000, keepAliveClients: 1, newConnectionClients: 1 });
  await waitFor('a memory recycle', () => /resident memory \d+ MiB above 1 MiB/.test(hm.output));
  await waitFor('the recycled worker to be gone', async () => (await quickStatus(hm)).workers.length === 1 && (await quickStatus(hm)).workers[0]!.state === 'ready');
  assert.deepEqual((await mload.stop()).failures, {}, 'no request failed across the memory recycle');
});
