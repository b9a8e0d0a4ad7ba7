import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { alive, freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #22, point 4: `hypnode stop` leaves no process the app started. A worker's plain children
// end with it; a detached child (a session of its own) that holds the listening socket ends with
// the manager; the port is free once `stop` returns, and the next start serves.

/**
 * Once listening, starts two children and writes their pids to children-<pid>.txt: a detached one
 * (own session) with the listening socket as its fd 3, and a plain one that ignores SIGTERM.
 */
const APP = `
import http from 'node:http';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const idle = 'setInterval(() => {}, 1e9)';
const server = http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => {
  const detached = spawn(process.execPath, ['-e', idle], { detached: true, stdio: ['ignore', 'ignore', 'ignore', server._handle.fd] });
  const plain = spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); ' + idle], { stdio: 'ignore' });
  detached.unref();
  writeFileSync(new URL('./children-' + process.pid + '.txt', import.meta.url), detached.pid + ' ' + plain.pid);
});
`;

function app(t: TestContext): { dir: string; app: string; children(worker: number): Promise<{ detached: number; plain: number }> } {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'app.mjs'), APP);
  const known: number[] = [];
  // Whatever the test leaves, ended here: never a process of someone else's.
  t.after(() => {
    for (const pid of known) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const children = async (worker: number) => {
    const text = await waitFor(`worker ${worker}'s children`, () => {
      try {
        return readFileSync(join(dir, `children-${worker}.txt`), 'utf8');
      } catch {
        return null;
      }
    });
    const [detached, plain] = text.split(' ').map(Number) as [number, number];
    known.push(detached, plain);
    return { detached, plain };
  };
  return { dir, app: join(dir, 'app.mjs'), children };
}

function session(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

test("hypnode stop ends what the app started, a detached child holding the port too; the next start serves", async (t) => {
  const a = app(t);
  const port = await freePort();
  const env = { PORT: String(port) };
  const h = await startHypnode(t, a.app, ['--workers', '1'], { env });
  const first = (await h.status()).workers[0]!.pid;
  const gen1 = await a.children(first);
  assert.notEqual(session(gen1.detached), session(first), 'the detached child has a session of its own');

  // A reload: the old worker's plain child ends with it.
  assert.equal((await h.cli('reload')).code, 0);
  await waitFor("the old worker's plain child to end with it", () => !alive(gen1.plain), 15_000);
  const second = (await h.status()).workers[0]!.pid;
  const gen2 = await a.children(second);

  const stopped = await h.cli('stop');
  assert.equal(stopped.code, 0, stopped.stderr);
  for (const [name, pid] of Object.entries({ ...gen2, 'generation 1 detached': gen1.detached })) assert.ok(!alive(pid), `${name} child ${pid} outlived the stop`);
  assert.ok(await portFree(port), 'the port is free once `hypnode stop` returned');
  assert.match(h.output, /ended \d+ processes the app had left behind/);

  const again = await startHypnode(t, a.app, ['--workers', '1'], { env });
  assert.equal((await get(port)).status, 200);
  await a.children((await again.status()).workers[0]!.pid);
});
