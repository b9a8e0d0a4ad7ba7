import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { startLoad } from '../tools/load.js';
import { faultApp, hold, quickStatus, sleep } from './support/faults.js';
import { exampleApp, freePort, startHypnode, waitFor } from './support/hypnode.js';

// Issue #22, point 2: a manager that did not run for longer than the heartbeat timeout (SIGSTOP
// here; a cgroup freeze or a paused VM alike) judges its workers by what they sent meanwhile, not
// by its own clock: the healthy ones live on, a hung one is still killed.

const HEARTBEAT = ['--heartbeat-interval', '0.2', '--heartbeat-timeout', '1'];
/** Four heartbeat timeouts: every deadline is long overdue when the manager runs again. */
const FREEZE_MS = 4000;

/** CPU time (user + system, in clock ticks) a process has used: one that spins gains it fast. */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Freezes the manager for FREEZE_MS (calling `meanwhile` while it is frozen), then lets it run again. */
async function freezeManager(pid: number, meanwhile: () => Promise<void> = async () => {}): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  try {
    await Promise.all([sleep(FREEZE_MS), meanwhile()]);
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

test('a manager frozen for four heartbeat timeouts kills no healthy worker when it runs again, and no request fails', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', ...HEARTBEAT], { env: { PORT: String(port) } });
  const before = (await quickStatus(h)).workers.map((w) => w.pid).sort();
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 200_000, keepAliveClients: 2, newConnectionClients: 2, slowEvery: 20 });
  await waitFor('the load to run', () => load.samples.length >= 50, 10_000);
  const frozenAt = Date.now();
  await freezeManager(h.pid);
  const resumedAt = Date.now();
  // Any verdict on an overdue deadline comes within a few turns of the manager's event loop; a
  // status answered after two more heartbeat timeouts shows the manager ran well past them.
  await sleep(2000);
  const after = await quickStatus(h);
  const result = await load.stop();
  t.diagnostic(`requests: ${result.total}, during the freeze: ${result.samples.filter((s) => s.start > frozenAt && s.end < resumedAt).length}`);
  assert.doesNotMatch(h.output, /sent no heartbeat/);
  assert.deepEqual(after.workers.map((w) => w.pid).sort(), before, 'the same workers serve');
  assert.equal(after.workersReady, 2);
  assert.deepEqual(result.failures, {}, `${result.failed} of ${result.total} requests failed`);
  assert.ok(result.samples.some((s) => s.start > frozenAt && s.end < resumedAt), 'the workers served while the manager was frozen');
});

test('a worker hung while the manager was frozen is still killed when it runs again; the healthy one lives on', async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', ...HEARTBEAT], { env: { PORT: String(port) } });
  const pids = (await quickStatus(h)).workers.map((w) => w.pid);
  const ticks = new Map(pids.map((p) => [p, cpuTicks(p)]));
  let hung = 0;
  await freezeManager(h.pid, async () => {
    // A worker accepts by itself, frozen manager or not: one of them takes this and spins forever.
    hold(port, '/hang');
    hung = await waitFor('a worker to spin', () => pids.find((p) => cpuTicks(p) - ticks.get(p)! > 50) ?? null, FREEZE_MS - 500, 100);
  });
  const healthy = pids.find((p) => p !== hung)!;
  const after = await waitFor('the hung worker to be replaced', async () => {
    const s = await quickStatus(h);
    return !s.workers.some((w) => w.pid === hung) && s.workersReady === 2 ? s : null;
  });
  assert.match(h.output, new RegExp(`worker ${hung} \\(generation 1\\) sent no heartbeat`));
  assert.doesNotMatch(h.output, new RegExp(`worker ${healthy} \\(generation 1\\) sent no heartbeat`));
  assert.ok(after.workers.some((w) => w.pid === healthy), 'the healthy worker serves on');
});
