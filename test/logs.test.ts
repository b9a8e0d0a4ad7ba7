import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { CLI, Hypnode, freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';

// Issue #6, point 4: every line names who wrote it (the manager, or a worker's generation and
// pid); under journald each line carries its syslog priority; JSON on request.

const APP = `import http from 'node:http';
console.log('out line');
console.error('err line');
console.error('<3>database down');
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT));
`;

function loggingApp(t: TestContext): string {
  const app = join(tempDir(t), 'app.mjs');
  writeFileSync(app, APP);
  return app;
}

test('text: manager lines say [hypnode], worker lines [gN pid]', async (t) => {
  const app = loggingApp(t);
  // JOURNAL_STREAM that names another stream (a parent's, inherited): no priority prefixes.
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(await freePort()), JOURNAL_STREAM: '1:1' } });
  const pid = (await h.status()).workers[0]!.pid;
  await waitFor('the worker lines', () => h.output.includes('database down'));
  assert.match(h.output, /^\[hypnode\] starting generation 1: 1 workers of /m);
  assert.match(h.output, new RegExp(`^\\[g1 ${pid}\\] out line$`, 'm'));
  assert.match(h.output, new RegExp(`^\\[g1 ${pid}\\] err line$`, 'm'));
  assert.match(h.output, new RegExp(`^\\[g1 ${pid}\\] database down$`, 'm'), 'an app-given priority is taken off the text');
  assert.doesNotMatch(h.output, /^</m);
});

test('journald: each line starts with its priority: stdout info, stderr warning, manager warnings and errors', async (t) => {
  const app = loggingApp(t);
  const dir = tempDir(t);
  const logPath = join(dir, 'journal.log');
  const fd = openSync(logPath, 'a');
  const { dev, ino } = fstatSync(fd);
  const env = { HYPNODE_RUNTIME_DIR: dir, PORT: String(await freePort()), JOURNAL_STREAM: `${dev}:${ino}` };
  const proc = spawn(process.execPath, [CLI, 'start', app, '--workers', '1'], { env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const h = new Hypnode(proc, app, env);
  t.after(() => h.cleanup());
  const first = (await h.waitServing()).workers[0]!.pid;
  // A crash makes the manager warn, a failed reload makes it log an error.
  process.kill(first, 'SIGKILL');
  await waitFor('the crash warning', () => readFileSync(logPath, 'utf8').includes(`worker ${first}`));
  writeFileSync(app, "throw new Error('broken');\n");
  assert.equal((await h.cli('reload')).code, 1);
  const log = readFileSync(logPath, 'utf8');

  assert.match(log, /^<6>\[hypnode\] starting generation 1/m);
  assert.match(log, new RegExp(`^<6>\\[g1 ${first}\\] out line$`, 'm'));
  assert.match(log, new RegExp(`^<4>\\[g1 ${first}\\] err line$`, 'm'));
  assert.match(log, new RegExp(`^<3>\\[g1 ${first}\\] database down$`, 'm'));
  assert.match(log, new RegExp(`^<4>\\[hypnode\\] warning: worker ${first} \\(generation 1\\) was killed by SIGKILL`, 'm'));
  assert.match(log, /^<3>\[hypnode\] error: reload failed: /m);
  assert.match(log, /^<4>\[g2 \d+\] Error: broken$/m, "the new code's error, from its worker's stderr");
  for (const line of log.trimEnd().split('\n')) assert.match(line, /^<[0-7]>\[/, `every line has a priority: ${line}`);
});

test('json: one object a line with time, level, source, pid, generation, stream and msg', async (t) => {
  const app = loggingApp(t);
  const h = await startHypnode(t, app, ['--workers', '1', '--log-format', 'json'], { env: { PORT: String(await freePort()) } });
  const pid = (await h.status()).workers[0]!.pid;
  await waitFor('the worker lines', () => h.output.includes('database down'));
  const records = h.output.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  for (const r of records) {
    assert.deepEqual(Object.keys(r), ['time', 'level', 'source', 'pid', 'generation', 'stream', 'msg']);
    assert.ok(!Number.isNaN(Date.parse(String(r.time))));
  }
  const byMsg = (msg: string) => records.find((r) => r.msg === msg);
  assert.deepEqual({ ...byMsg('out line'), time: 0 }, { time: 0, level: 'info', source: 'worker', pid, generation: 1, stream: 'stdout', msg: 'out line' });
  assert.deepEqual({ ...byMsg('err line'), time: 0 }, { time: 0, level: 'warning', source: 'worker', pid, generation: 1, stream: 'stderr', msg: 'err line' });
  assert.equal(byMsg('database down')?.level, 'error');
  const own = records.find((r) => String(r.msg).startsWith('starting generation 1'));
  assert.deepEqual({ ...own, time: 0, msg: '' }, { time: 0, level: 'info', source: 'manager', pid: h.pid, generation: null, stream: 'stdout', msg: '' });
});

test('--log-file renamed by logrotate is reopened by `hypnode reopen-logs` and by SIGUSR1: no line lost, none written twice', async (t) => {
  const dir = tempDir(t);
  const app = join(dir, 'app.mjs');
  // Two workers, each counting its lines as fast as a busy app logs (and a request counter).
  writeFileSync(app, `import http from 'node:http';
let n = 0;
setInterval(() => { for (let i = 0; i < 5; i++) console.log(process.pid + ' ' + n++); }, 1);
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`);
  const log = join(dir, 'app.log');
  const h = await startHypnode(t, app, ['--workers', '2', '--log-file', log], { env: { PORT: String(await freePort()) } });
  const lines = (path: string) => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').length : 0);
  await waitFor('lines in the log', () => lines(log) > 2000);
  renameSync(log, `${log}.1`);
  const r = await h.cli('reopen-logs');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /reopened .*app\.log/);
  await waitFor('lines in the new log', () => lines(log) > 2000);
  renameSync(log, `${log}.2`);
  process.kill(h.pid, 'SIGUSR1'); // what logrotate's postrotate sends
  await waitFor('lines in the newest log', () => lines(log) > 2000);
  assert.equal((await h.cli('stop')).code, 0);

  const all = [`${log}.1`, `${log}.2`, log].map((p) => readFileSync(p, 'utf8')).join('');
  assert.ok(lines(`${log}.1`) > 2000 && lines(`${log}.2`) > 2000, 'each file took lines');
  const counts = new Map<string, number[]>();
  for (const line of all.split('\n')) {
    const m = /^\[g1 (\d+)\] (\d+) (\d+)$/.exec(line);
    if (!m) continue;
    assert.equal(m[1], m[2], `a line tagged with the worker that wrote it: ${line}`);
    counts.set(m[1]!, [...(counts.get(m[1]!) ?? []), Number(m[3])]);
  }
  assert.equal(counts.size, 2);
  for (const [pid, seq] of counts) {
    assert.deepEqual(seq, seq.map((_, i) => i), `worker ${pid}: every line once, in order (${seq.length} lines)`);
  }
  assert.match(all, /^\[hypnode\] stopped$/m, "the manager's last line is in the log too");
});
