import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { alive, CLI, freePort, Hypnode, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #11, point 7: hypnode as a container's main process, PID 1 of its PID namespace (what
// `docker run` makes of it), tried with `unshare --pid --fork --mount-proc`.

const skip =
  process.getuid?.() !== 0 ? 'needs root (a PID namespace of its own)'
  : spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']).status !== 0 ? 'unshare --pid --fork --mount-proc is not permitted here'
  : false;

/** The app: answers, sleeps on /sleep; with ORPHANS set, starts a shell every 20 ms that leaves a child behind and exits. */
const APP = `
import http from 'node:http';
import { spawn } from 'node:child_process';
if (process.env.BROKEN) throw new Error('cannot boot');
if (process.env.ORPHANS) {
  const timer = setInterval(() => spawn('sh', ['-c', 'sleep 0.05 & exit 0'], { stdio: 'ignore' }), 20);
  setTimeout(() => clearInterval(timer), Number(process.env.ORPHANS));
}
http.createServer((req, res) => {
  if (req.url.startsWith('/sleep')) return void setTimeout(() => res.end('slept'), 2000);
  res.end('ok');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

interface Init {
  h: Hypnode;
  /** The manager's pid as seen from here (it is 1 inside its namespace). */
  pid: number;
}

/** `hypnode start` as PID 1 of a new PID namespace. */
async function startAsInit(t: TestContext, env: Record<string, string>): Promise<Init> {
  const dir = tempDir(t);
  const app = join(dir, 'app.mjs');
  writeFileSync(app, APP);
  const full = { HYPNODE_RUNTIME_DIR: dir, ...env };
  const proc = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, CLI, 'start', app, '--workers', '2', '--heartbeat-interval', '0.2'], { env: { ...process.env, ...full }, stdio: ['ignore', 'pipe', 'pipe'] });
  const h = new Hypnode(proc, app, full);
  const pid = await waitFor('the manager inside the namespace', () => children(proc.pid!)[0]);
  t.after(async () => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
    await h.exited;
  });
  return { h, pid };
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function state(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}

test('as PID 1: SIGTERM (docker stop) drains the request in flight and exits 0', { skip }, async (t) => {
  const port = await freePort();
  const { h, pid } = await startAsInit(t, { PORT: String(port) });
  await h.waitServing();
  const inFlight = get(port, '/sleep');
  await waitFor('the request to arrive', async () => (await h.status()).workers.some((w) => w.connections > 0));
  process.kill(pid, 'SIGTERM');
  assert.equal((await inFlight).body, 'slept', 'the request in flight was answered');
  assert.equal(await h.exited, 0, 'the container exits 0');
});

test('as PID 1: stopped before the app ever served, the exit status says it failed', { skip }, async (t) => {
  const { h, pid } = await startAsInit(t, { PORT: String(await freePort()), BROKEN: '1' });
  await waitFor('a crash', () => /cannot boot/.test(h.output));
  process.kill(pid, 'SIGTERM');
  assert.equal(await h.exited, 1);
});

test('as PID 1: orphans the app leaves behind are reaped, not left as zombies', { skip }, async (t) => {
  const port = await freePort();
  const { h, pid } = await startAsInit(t, { PORT: String(port), ORPHANS: '1500' });
  await h.waitServing();
  // Orphaned `sleep`s come to PID 1, the manager, beside its 2 workers, while the app makes them.
  let adopted = 0;
  await waitFor('orphans to be adopted', () => (adopted = children(pid).length) > 2, 5000, 10);
  await new Promise((r) => setTimeout(r, 2500));
  const workers = new Set((await h.status()).workers.map((w) => w.pid));
  const zombies = children(pid).filter((c) => !workers.has(c) && state(c) === 'Z');
  t.diagnostic(`children of PID 1 seen at once: ${adopted}; zombies left: ${zombies.length}`);
  assert.deepEqual(zombies, [], 'every orphan that exited was reaped');
  assert.equal((await get(port)).status, 200);
});
