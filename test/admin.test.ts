import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { alive, freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { installedExample } from './support/examples.js';
import { get } from './support/http.js';

// Issue #17: --admin serves /metrics (the manager's own figures and the app's prom-client
// metrics summed over the workers, kept across reloads), /healthz (503 from the moment a stop
// begins, --stop-delay before the workers drain) and /status. promtool accepts the exposition, and
// a real Prometheus scrapes it and reads back the requests the test sent.

const PROMTOOL = spawnSync('promtool', ['--version']).status === 0;
const PROMETHEUS = spawnSync('prometheus', ['--version']).status === 0;

async function fetchText(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** The value of one sample line, e.g. `app_requests_total{path="/"}`. */
function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

async function send(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) assert.equal((await get(port)).status, 200);
}

test('--admin: /metrics sums the app\'s counters over the workers and keeps them across a reload; the manager\'s own figures; /status; promtool accepts it', async (t) => {
  const { dir, app } = installedExample(t, 'metrics');
  const port = await freePort();
  const admin = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--admin', `127.0.0.1:${admin}`, '--heartbeat-interval', '0.2'], { env: { PORT: String(port) } });
  const status = await waitFor('the first heartbeats', async () => {
    const s = await h.status();
    return s.workers.every((w) => w.rss > 0) ? s : null;
  });

  await send(port, 100);
  const first = await fetchText(admin, '/metrics');
  assert.equal(first.status, 200);
  assert.match(first.type, /^text\/plain; version=0\.0\.4/);
  assert.equal(sample(first.body, 'app_requests_total{path="/"}'), 100, 'each request counted once, whichever worker took it');
  assert.equal(sample(first.body, 'app_request_duration_seconds_count'), 100);
  assert.equal(sample(first.body, 'hypnode_workers{state="ready"}'), 2);
  assert.equal(sample(first.body, 'hypnode_generation'), 1);
  assert.equal(sample(first.body, 'hypnode_reloads_total{outcome="ok"}'), 0);
  for (const w of status.workers) {
    assert.ok(sample(first.body, `hypnode_worker_resident_memory_bytes{generation="1",slot="${w.slot}",pid="${w.pid}"}`)! > 0, `worker ${w.pid}'s memory`);
    assert.notEqual(sample(first.body, `hypnode_worker_event_loop_delay_seconds{generation="1",slot="${w.slot}",pid="${w.pid}"}`), null);
  }
  assert.ok(sample(first.body, 'hypnode_manager_resident_memory_bytes')! > 0, "the manager's own memory");
  assert.ok(sample(first.body, 'hypnode_manager_cpu_seconds_total')! > 0, "the manager's own CPU");

  writeFileSync(join(dir, 'version.txt'), '2\n');
  assert.equal((await h.cli('reload')).code, 0);
  await send(port, 40);
  const after = await fetchText(admin, '/metrics');
  assert.equal(sample(after.body, 'app_requests_total{path="/"}'), 140, 'the old workers\' counts stay in the sum: a reload is no counter reset');
  assert.equal(sample(after.body, 'hypnode_reloads_total{outcome="ok"}'), 1);
  assert.equal(sample(after.body, 'hypnode_reload_duration_seconds_count'), 1);
  assert.equal(sample(after.body, 'hypnode_worker_exits_total{reason="replaced"}'), 2);
  assert.equal(sample(after.body, 'hypnode_generation'), 2);

  const json = await fetchText(admin, '/status');
  assert.equal(JSON.parse(json.body).pid, h.pid);
  assert.equal((await fetchText(admin, '/nope')).status, 404);

  if (PROMTOOL) {
    const check = spawnSync('promtool', ['check', 'metrics'], { input: after.body, encoding: 'utf8' });
    assert.equal(check.status, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
  } else {
    t.diagnostic('promtool is not installed (Debian: apt-get install prometheus): the exposition was not checked by it');
  }
});

test('--admin /healthz: 200 while serving, 503 from the moment a stop begins; --stop-delay keeps the workers serving meanwhile', async (t) => {
  const { app } = installedExample(t, 'metrics');
  const port = await freePort();
  const admin = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--admin', `127.0.0.1:${admin}`, '--stop-delay', '4'], { env: { PORT: String(port) } });
  assert.deepEqual(await fetchText(admin, '/healthz').then((r) => [r.status, r.body]), [200, 'serving\n']);

  // The CLI's own start takes seconds on a busy machine: the wait is for it, the delay is long enough
  // for the checks below however late it came.
  const stopping = h.cli('stop');
  const unhealthyAt = await waitFor('/healthz to fail', async () => ((await fetchText(admin, '/healthz')).status === 503 ? Date.now() : null), 10_000, 20);
  // The load balancer has stopped sending by now; those who still send are served.
  for (let i = 0; i < 5; i++) {
    assert.equal((await get(port)).status, 200, 'the workers serve on through the stop delay');
    await new Promise((r) => setTimeout(r, 150));
  }
  assert.ok(Date.now() - unhealthyAt < 4000, 'still within the delay');
  assert.equal((await stopping).code, 0);
  assert.ok(!alive(h.pid));
});

test('a real Prometheus scrapes /metrics and reads the requests summed over the workers, across a reload', { skip: PROMETHEUS ? false : 'prometheus is not installed (Debian: apt-get install prometheus)' }, async (t) => {
  const { dir, app } = installedExample(t, 'metrics');
  const port = await freePort();
  const admin = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--admin', `127.0.0.1:${admin}`], { env: { PORT: String(port) } });
  const data = tempDir(t, 'hypnode-prometheus-');
  const web = await freePort();
  writeFileSync(join(data, 'prometheus.yml'), `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: hypnode\n    static_configs:\n      - targets: ['127.0.0.1:${admin}']\n`);
  const prometheus = spawn('prometheus', [`--config.file=${join(data, 'prometheus.yml')}`, `--storage.tsdb.path=${join(data, 'tsdb')}`, `--web.listen-address=127.0.0.1:${web}`], { stdio: 'ignore' });
  t.after(() => void prometheus.kill('SIGTERM'));
  const query = async (q: string): Promise<number | null> => {
    const res = await fetch(`http://127.0.0.1:${web}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => null);
    if (!res?.ok) return null;
    const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
    const v = body.data.result[0]?.value[1];
    return v === undefined ? null : Number(v);
  };

  await send(port, 60);
  await waitFor('Prometheus to scrape 60 requests', async () => ((await query('sum(app_requests_total)')) === 60 ? true : null), 20_000, 250);
  writeFileSync(join(dir, 'version.txt'), '2\n');
  assert.equal((await h.cli('reload')).code, 0);
  await send(port, 25);
  await waitFor('Prometheus to scrape 85 requests across the reload', async () => ((await query('sum(app_requests_total)')) === 85 ? true : null), 20_000, 250);
  assert.equal(await query('hypnode_reloads_total{outcome="ok"}'), 1);
  assert.equal(await query('up{job="hypnode"}'), 1);
});
