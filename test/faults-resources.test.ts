import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startLoad } from '../tools/load.js';
import { ask, faultApp, get, quickStatus, sleep, usage } from './support/faults.js';
import { alive, freePort, startHypnode, waitFor } from './support/hypnode.js';

// Issue #5, out of resources: a port someone else holds, file descriptors run out (in a worker,
// in the manager), and a worker whose memory grows without end.

/** Holds 127.0.0.1:PORT the way another program would, until the test ends. */
async function occupy(t: TestContext): Promise<{ port: number; release(): Promise<void> }> {
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const release = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  t.after(release);
  return { port: (server.address() as net.AddressInfo).port, release };
}

/** Sets the soft RLIMIT_NOFILE of a running process (prlimit(1), from util-linux). */
function limitFds(pid: number, soft: number): void {
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${soft}:`]);
}

/** User plus system CPU time a process has used, from /proc/PID/stat. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat(5); 'fields' starts at field 3.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const hasPrlimit = (() => {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('a port already in use: a clear error at start, retried with backoff, serving once the port is free', async (t) => {
  const { app } = faultApp(t);
  const taken = await occupy(t);
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(taken.port) }, wait: false });
  const line = new RegExp(`cannot listen on tcp:127\\.0\\.0\\.1:${taken.port} \\(EADDRINUSE: address already in use\\)`);
  await waitFor('the error', () => line.test(h.output));
  // The worker reports the error before it exits; the crash is recorded at the exit.
  const s = await waitFor('the crash to be recorded', async () => {
    const s = await quickStatus(h);
    return s.lastCrash ? s : null;
  });
  assert.equal(s.state, 'failing', 'crashing before it ever served: failing, not starting');
  assert.match(s.lastCrash?.message ?? '', new RegExp(`after failing to listen on tcp:127\\.0\\.0\\.1:${taken.port} \\(EADDRINUSE`));
  await taken.release();
  await h.waitServing(30_000);
  assert.equal((await get(taken.port)).status, 200);
});

test('a port already in use at reload: the reload fails naming the port, the old code serves on', async (t) => {
  const { dir, app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const taken = await occupy(t);
  writeFileSync(join(dir, 'extra-port'), String(taken.port));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const r = await h.cli('reload');
  assert.equal(r.code, 1);
  const last = r.stderr.trim().split('\n').pop()!;
  assert.match(last, new RegExp(`reload failed: worker \\d+ \\(generation \\d+\\) exited with code 1 before it was ready, after failing to listen on tcp:127\\.0\\.0\\.1:${taken.port} \\(EADDRINUSE: address already in use\\); the old code keeps serving`));
  assert.match(r.stderr, /--- output of the new code ---[\s\S]*EADDRINUSE/);
  assert.equal((await get(port)).version, '1');
  assert.equal((await quickStatus(h)).generation, 1);
});

test('a worker out of file descriptors sheds connections but survives; the manager is untouched', { skip: !hasPrlimit && 'needs prlimit' }, async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const [worker] = (await quickStatus(h)).workers;
  limitFds(worker!.pid, usage(worker!.pid).fds + 5);
  const burst = await Promise.all(
    Array.from({ length: 40 }, () => get(port, '/slow').then(() => 'ok', (err: NodeJS.ErrnoException) => err.code ?? err.message)),
  );
  const outcomes: Record<string, number> = {};
  for (const o of burst) outcomes[o] = (outcomes[o] ?? 0) + 1;
  t.diagnostic(`40 concurrent requests to a worker allowed 5 more fds: ${JSON.stringify(outcomes)}`);
  assert.ok(outcomes.ok && outcomes.ok >= 3, 'the worker served what it could');
  const s = await quickStatus(h);
  assert.equal(s.state, 'serving');
  assert.ok(alive(worker!.pid) || s.workersReady === 1, 'the worker lives on, or was replaced');
  for (let i = 0; i < 5; i++) assert.equal((await get(port)).status, 200, 'it serves once the burst is over');
});

test('a manager out of file descriptors keeps running: a worker it cannot fork is retried, and it recovers', { skip: !hasPrlimit && 'needs prlimit' }, async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const [worker] = (await quickStatus(h)).workers;
  // Room for a control connection or two, not for the three pipes of a new worker.
  limitFds(h.pid, usage(h.pid).fds + 2);
  process.kill(worker!.pid, 'SIGKILL');
  await waitFor('a failed fork', () => /could not be started: spawn \S+ EMFILE/.test(h.output));
  const s = await quickStatus(h);
  assert.match(s.lastCrash?.message ?? '', /could not be started: spawn \S+ EMFILE/);
  const reload = await ask(h, 'reload');
  assert.equal(reload.ok, false);
  assert.match(reload.ok ? '' : reload.error, /could not be started: spawn \S+ EMFILE/);

  limitFds(h.pid, 4096);
  const recovered = await waitFor('the manager to serve again', async () => {
    const s = await quickStatus(h);
    return s.workersReady === 1 ? s : null;
  }, 30_000);
  assert.equal(recovered.pid, h.pid, 'the same manager');
  assert.equal((await get(port)).status, 200);
});

test('a manager with no file descriptor left sheds control connections without spinning, and answers once it has some', { skip: !hasPrlimit && 'needs prlimit' }, async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  // RLIMIT_NOFILE bounds fd numbers: at the lowest free one, no accept() can succeed. The control
  // connections of the status calls before close a moment after their answer, freeing lower fds:
  // the lowest free fd is taken once it holds still.
  const lowestFree = () => {
    let fd = 0;
    while (existsSync(`/proc/${h.pid}/fd/${fd}`)) fd++;
    return fd;
  };
  let lowest = lowestFree();
  for (;;) {
    await sleep(300);
    const again = lowestFree();
    if (again === lowest) break;
    lowest = again;
  }
  limitFds(h.pid, lowest);
  const before = cpuMs(h.pid);
  const refused = await Promise.all(Array.from({ length: 5 }, () => ask(h, 'status').then(() => 'answered', (err: Error) => err.message)));
  await sleep(2000);
  const spent = cpuMs(h.pid) - before;
  t.diagnostic(`5 control connections with no fd left: ${JSON.stringify(refused)}; the manager used ${spent} ms of CPU in the 2 s after`);
  for (const r of refused) assert.match(r, /dropped the connection unanswered \((EPIPE|ECONNRESET)\): it may be out of file descriptors/);
  // A busy accept loop (EMFILE, again and again) would take a whole core.
  assert.ok(spent < 1000, `the manager spun: ${spent} ms of CPU in 2 s`);
  assert.equal((await get(port)).status, 200, 'the workers serve on');
  limitFds(h.pid, 4096);
  assert.equal((await quickStatus(h)).pid, h.pid, 'the manager answers again');
});

test('a worker whose memory grows is replaced gracefully at --max-rss, failing no request', async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--max-rss', '110', '--heartbeat-interval', '0.2'], {
    env: { PORT: String(port), GROW_MB_PER_S: '25' },
  });
  const load = startLoad({ port, durationMs: 8000, maxRequests: 100_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 10 });
  let mostRss = 0;
  while (!(await Promise.race([load.done.then(() => true), sleep(200).then(() => false)]))) {
    for (const w of (await quickStatus(h)).workers) mostRss = Math.max(mostRss, w.rss);
  }
  const result = await load.done;
  const recycled = h.output.match(/replacing worker \d+ \(generation 1\): resident memory \d+ MiB above 110 MiB/g) ?? [];
  t.diagnostic(`${result.total} requests, ${result.failed} failed; ${recycled.length} workers replaced; the largest worker seen: ${(mostRss / 1048576).toFixed(0)} MiB`);
  assert.ok(recycled.length >= 2, `${recycled.length} workers were replaced`);
  assert.deepEqual(result.failures, {}, 'no request fails while growing workers are replaced');
  assert.ok(result.total > 200);
  assert.equal((await quickStatus(h)).workersReady, 2);
  assert.equal((await get(port)).status, 200);
});
