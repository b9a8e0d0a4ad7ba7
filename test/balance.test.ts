import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { startLoad } from '../tools/load.js';
import { exampleApp, freePort, startHypnode, waitFor } from './support/hypnode.js';

// Issue #28: a reverse proxy's few keep-alive connections spread over every worker (balance.ts),
// told from outside by the pid that answers on each connection; and balancing drops nothing.

interface Spread {
  /** Connections per worker pid, busiest first. */
  connections: number[];
  /** Requests answered per worker pid, busiest first. */
  requests: number[];
  failed: number;
}

/** `connections` clients opened at once, each keeping its one connection and asking again as soon as answered. */
async function pool(port: number, connections: number, durationMs: number): Promise<Spread> {
  const perConnection = new Map<string, number>();
  const perRequest = new Map<string, number>();
  let failed = 0;
  const deadline = Date.now() + durationMs;
  const ask = (agent: http.Agent) =>
    new Promise<string | null>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200 ? String(res.headers['x-pid']) : null));
      });
      req.setTimeout(5000, () => req.destroy());
      req.on('error', () => resolve(null));
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      let first = true;
      while (Date.now() < deadline) {
        const pid = await ask(agent);
        if (pid === null) {
          failed++;
          continue;
        }
        if (first) perConnection.set(pid, (perConnection.get(pid) ?? 0) + 1);
        first = false;
        perRequest.set(pid, (perRequest.get(pid) ?? 0) + 1);
      }
      agent.destroy();
    }),
  );
  const busiestFirst = (m: Map<string, number>) => [...m.values()].sort((a, b) => b - a);
  return { connections: busiestFirst(perConnection), requests: busiestFirst(perRequest), failed };
}

function assertSpread(s: Spread, workers: number, connections: number, when: string): void {
  const fair = connections / workers;
  assert.equal(s.failed, 0, `${when}: no request failed`);
  assert.ok(s.connections[0]! <= 1.5 * fair, `${when}: the busiest worker holds at most 1.5x its fair share of ${fair} connections: ${s.connections.join('/')}`);
  const total = s.requests.reduce((a, b) => a + b, 0);
  assert.ok(s.requests[0]! <= (1.5 * total) / workers, `${when}: and answers at most 1.5x its fair share of the requests: ${s.requests.join('/')}`);
}

test('16 keep-alive connections on 4 workers: at most 1.5x the fair share each, before and after a reload', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '4'], { env: { PORT: String(port) } });
  assertSpread(await pool(port, 16, 1500), 4, 16, 'generation 1');

  writeFileSync(join(dir, 'version.txt'), '2\n');
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  // The new generation's workers have seats of their own in the table; the old ones left theirs.
  assertSpread(await pool(port, 16, 1500), 4, 16, 'generation 2');
});

test('balanced accept drops nothing: keep-alive and new-connection load across a batched reload, TTIN and TTOU', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '4', '--reload-batch', '2', '--probation', '0.5'], { env: { PORT: String(port) } });
  const load = startLoad({ port, durationMs: 30_000, maxRequests: 200_000, keepAliveClients: 12, newConnectionClients: 4, slowEvery: 20 });

  writeFileSync(join(dir, 'version.txt'), '2\n');
  const r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  process.kill(h.pid, 'SIGTTIN');
  await waitFor('a fifth worker', async () => (await h.status()).workersReady === 5);
  process.kill(h.pid, 'SIGTTOU');
  await waitFor('back to four workers', async () => (await h.status()).workers.length === 4);
  writeFileSync(join(dir, 'version.txt'), '3\n');
  const again = await h.cli('reload');
  assert.equal(again.code, 0, again.stderr);

  const result = await load.stop();
  assert.deepEqual(result.failures, {}, `no request failed or was refused (${result.total} requests)`);
  assert.ok(result.total > 500, `the load ran (${result.total} requests)`);
  assert.ok((result.versions['3'] ?? 0) > 0, 'the last code answered');
});
