import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startLoad } from '../tools/load.js';
import { freePort, runCli, tempDir } from './support/hypnode.js';
import { get } from './support/http.js';
import { startUserManager, systemdSkipReason } from './support/systemd.js';

// Issue #14 under journald (a unit's default output): once ready, each worker writes its lines
// to a journald stream of its own. Every request is still answered with nothing but its response
// (a line must never land in a client's connection), every line arrives whole, with the worker's
// pid, the unit, and its priority (stdout info, stderr warning, a line's own `<N>` kept).

const skip = systemdSkipReason() ?? false;
const SERVICE = 'hypnode-app.service';

const APP = `
import http from 'node:http';
http.createServer((req, res) => {
  const n = new URL(req.url, 'http://x').searchParams.get('n');
  console.log(JSON.stringify({ msg: 'request', n, pad: 'x'.repeat(200) }));
  if (n && Number(n) % 100 === 0) {
    console.error('slow path ' + n);
    process.stdout.write('<3>own priority ' + n + '\\n');
  }
  res.setHeader('x-version', '1');
  res.end('ok ' + n);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

interface Entry {
  MESSAGE: string;
  PRIORITY: string;
  _PID: string;
  _SYSTEMD_UNIT?: string;
}

test('under journald: worker lines go to streams of their own, whole, with their pid and priority; no line reaches a client', { skip }, async (t) => {
  const sb = await startUserManager(t, { journal: true });
  const dir = join(tempDir(t), 'app');
  mkdirSync(dir);
  const app = join(dir, 'app.mjs');
  writeFileSync(app, APP);
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-sdrun-');
  const unit = await runCli(['unit', app, '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--out', sb.unitDir]);
  assert.equal(unit.code, 0, unit.stderr);
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);
  const start = await sb.systemctl('start', SERVICE);
  assert.equal(start.code, 0, start.stderr + sb.managerLog());
  const managerPid = (await sb.show(SERVICE, ['MainPID'])).MainPID!;

  // Numbered requests, each answered with exactly its own body: a stray log line in a
  // connection would break the response or the next one on it.
  const COUNT = 600;
  for (let n = 1; n <= COUNT; n++) {
    const r = await get(port, `/?n=${n}`);
    assert.equal(r.status, 200);
    assert.equal(r.body, `ok ${n}`);
  }
  // And under concurrent load, nothing fails.
  const load = startLoad({ port, durationMs: 10_000, maxRequests: 20_000, keepAliveClients: 4, newConnectionClients: 2 });
  await new Promise((r) => setTimeout(r, 2000));
  const result = await load.stop();
  assert.deepEqual(result.failures, {}, `${result.failed} of ${result.total} requests failed`);
  assert.ok(result.total > 200, `the load ran (${result.total} requests)`);

  let entries: Entry[] = [];
  const wanted = (e: Entry) => /"msg":"request","n":"\d+"/.test(e.MESSAGE);
  for (let tries = 0; tries < 50; tries++) {
    const out = await sb.journal('-o', 'json', '--output-fields', 'MESSAGE,PRIORITY,_PID,_SYSTEMD_UNIT', '-u', SERVICE);
    entries = out.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Entry);
    if (new Set(entries.filter(wanted).map((e) => JSON.parse(e.MESSAGE.replace(/^\[g\d+ \d+\] /, '')).n)).size >= COUNT) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const requests = entries.filter(wanted);
  const numbered = new Set<string>();
  for (const e of requests) {
    const m = /^\[g1 (\d+)\] (\{.*\})$/.exec(e.MESSAGE);
    assert.ok(m, `a whole, tagged line: ${e.MESSAGE.slice(0, 120)}`);
    assert.equal(m[1], e._PID, 'the line is the worker’s own, by its pid');
    assert.notEqual(e._PID, managerPid, 'after ready, the worker writes its lines itself');
    assert.equal(e.PRIORITY, '6');
    assert.equal(e._SYSTEMD_UNIT, SERVICE);
    numbered.add((JSON.parse(m[2]!) as { n: string }).n);
  }
  for (let n = 1; n <= COUNT; n++) assert.ok(numbered.has(String(n)), `the line of request ${n} is in the journal`);
  const warnings = entries.filter((e) => /slow path \d+$/.test(e.MESSAGE));
  assert.equal(warnings.length, COUNT / 100);
  for (const e of warnings) assert.equal(e.PRIORITY, '4', 'stderr is a warning');
  const own = entries.filter((e) => /own priority \d+$/.test(e.MESSAGE));
  assert.equal(own.length, COUNT / 100);
  for (const e of own) {
    assert.equal(e.PRIORITY, '3', 'a line’s own priority is kept');
    assert.match(e.MESSAGE, /^\[g1 \d+\] own priority/, 'and stripped from the text');
  }
  const status = await runCli(['status', app, '--runtime-dir', runtime, '--json']);
  assert.equal(JSON.parse(status.stdout).logLinesDropped, 0);

  // Issue #25: `systemctl reload` (ExecReload=hypnode reload) and the manager both write to this
  // journal: each progress line, and a broken deploy's output, appear once.
  assert.equal((await sb.systemctl('reload', SERVICE)).code, 0);
  const good = readFileSync(app, 'utf8');
  writeFileSync(app, `throw new Error('broken release ' + process.pid);\n${good}`);
  assert.notEqual((await sb.systemctl('reload', SERVICE)).code, 0, 'the broken reload fails');
  writeFileSync(app, good);
  let said: string[] = [];
  for (let tries = 0; tries < 50; tries++) {
    said = (await sb.journal('-o', 'cat', '-u', SERVICE)).stdout.split('\n');
    if (said.some((l) => /reload failed/.test(l))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(said.filter((l) => /starting generation 2\b/.test(l)).length, 1, `the progress once:\n${said.join('\n')}`);
  assert.equal(said.filter((l) => /starting generation 3\b/.test(l)).length, 1);
  const thrown = said.filter((l) => /Error: broken release \d+/.test(l)).map((l) => /broken release (\d+)/.exec(l)![1]);
  assert.ok(thrown.length > 0, 'the broken code\'s error is in the journal');
  assert.equal(new Set(thrown).size, thrown.length, `each failed worker's stack once:\n${said.join('\n')}`);
  assert.equal((await sb.systemctl('stop', SERVICE)).code, 0);
});
