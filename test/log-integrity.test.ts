import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ask, quickStatus } from './support/faults.js';
import { CLI, Hypnode, freePort, startHypnode, tempDir, waitFor } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #14: workers write their output straight to the manager's sinks once ready, tagged and
// whole. Nothing the logs promise may be lost on the way: every line keeps its tag, no line is
// torn or interleaved with another's (8 workers at once, lines of 1 byte to 64 KiB), a last line
// without its newline and a worker's last words before it crashes still appear; and a sink that
// takes nothing never stops the manager.

const LINES = 120;
const SIZES = [1, 80, 4095, 4096, 4097, 16_000, 65_536];

/**
 * Each worker writes LINES lines, `PID:SEQ:` and then one letter repeated to the line's size (in characters),
 * half before it is ready (through the manager) and half after (straight to the sink), through
 * console.log, process.stdout.write and (once ready) fs.writeSync(1) in turn; then a last line
 * without a newline, written when it drains. GET /crash ends it with a last line and an uncaught error.
 */
const INDEX = new URL('../src/index.js', import.meta.url).href;

const APP = `
import http from 'node:http';
import fs from 'node:fs';
import { onDrain } from '${INDEX}';
const sizes = ${JSON.stringify(SIZES)};
// Letters of one, two and three bytes in UTF-8: a line is cut nowhere, not even in a character.
const letter = (seq) => 'abcdefghijklmnopqrstuvwxyzé€'[(process.pid + seq) % 28];
const line = (seq) => { const head = process.pid + ':' + seq + ':'; return head + letter(seq).repeat(Math.max(1, sizes[seq % sizes.length] - head.length)); };
// fs.writeSync(1) only once the worker writes its output itself (hypnode has replaced
// process.stdout.write then): before, fd 1 is a non-blocking pipe, where a plain writeSync gets
// EAGAIN when it is full, as under any parent that pipes a process's stdout. On a busy machine
// that can be well after the server listens.
const pipeWrite = process.stdout.write;
const write = (seq, ready) => {
  const text = line(seq);
  if (seq % 3 === 0) console.log(text);
  else if (seq % 3 === 1 || !ready || process.stdout.write === pipeWrite) process.stdout.write(text + '\\n');
  else fs.writeSync(1, text + '\\n');
};
let seq = 0;
for (; seq < ${LINES / 2}; seq++) write(seq, false);
const server = http.createServer((req, res) => {
  if (req.url === '/crash') {
    console.log('last words of ' + process.pid);
    setImmediate(() => { throw new Error('crash of ' + process.pid); });
  }
  res.end('ok');
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  // After it is ready: the rest, from several turns of the event loop.
  const more = () => { for (let i = 0; i < 10 && seq < ${LINES}; i++) write(seq++, true); if (seq < ${LINES}) setTimeout(more, 5); };
  setTimeout(more, 300);
});
onDrain(() => process.stdout.write('no newline at exit from ' + process.pid));
`;

function app(t: TestContext): string {
  const path = join(tempDir(t), 'app.mjs');
  writeFileSync(path, APP);
  return path;
}

/** Checks every worker line in `text`: tagged, whole, in order, none missing. */
function checkLines(text: string, pids: number[], crashed: number | null): void {
  const seqs = new Map<number, number[]>(pids.map((p) => [p, []]));
  for (const raw of text.split('\n')) {
    const tagged = /^\[g1 (\d+)\] (.*)$/.exec(raw);
    if (!tagged) continue;
    const pid = Number(tagged[1]);
    const body = tagged[2]!;
    const m = /^(\d+):(\d+):([a-zé€]+)$/.exec(body);
    if (!m) continue;
    assert.equal(Number(m[1]), pid, `a line under the tag of the worker that wrote it: ${raw.slice(0, 80)}`);
    const seq = Number(m[2]);
    const size = SIZES[seq % SIZES.length]!;
    assert.equal(body.length, Math.max(size, `${pid}:${seq}:`.length + 1), `line ${pid}:${seq} whole (${body.length} characters, expected ${size})`);
    assert.equal(new Set(m[3]).size, 1, `line ${pid}:${seq} not mixed with another`);
    seqs.get(pid)?.push(seq);
  }
  for (const pid of pids) {
    const got = seqs.get(pid)!;
    assert.deepEqual(got, Array.from({ length: LINES }, (_, i) => i), `worker ${pid}: every line once, in order`);
    if (pid !== crashed) assert.match(text, new RegExp(`^\\[g1 ${pid}\\] no newline at exit from ${pid}$`, 'm'), `worker ${pid}: its last line without a newline`);
  }
  if (crashed !== null) {
    assert.match(text, new RegExp(`^\\[g1 ${crashed}\\] last words of ${crashed}$`, 'm'), 'the last line before the crash');
    assert.match(text, new RegExp(`^\\[g1 ${crashed}\\] Error: crash of ${crashed}$`, 'm'), 'and the crash itself');
  }
}

async function writeAndStop(h: Hypnode, port: number, text: () => string): Promise<{ pids: number[]; crashed: number }> {
  const pids = (await h.status()).workers.map((w) => w.pid);
  // Each writes its last lines within a second of being ready (later on a busy machine).
  await waitFor('every worker to write its lines', () => pids.every((p) => text().includes(`] ${p}:${LINES - 1}:`)) || null, 60_000, 100);
  // One worker crashes: its last words first.
  let crashed = 0;
  await get(port, '/crash').catch(() => {});
  await waitFor('a worker to crash', async () => {
    const s = await quickStatus(h);
    crashed = pids.find((p) => !s.workers.some((w) => w.pid === p)) ?? 0;
    return crashed !== 0 && s.lastCrash !== null;
  });
  // The worker started in its place is stopped only once ready: a stop ends a starting worker by
  // SIGKILL, which may cut the line it is writing (see Logs in the README).
  await waitFor('the crashed worker replaced', async () => {
    const s = await quickStatus(h);
    return s.workers.length === pids.length && s.workers.every((w) => w.state === 'ready');
  }, 60_000);
  assert.equal((await h.cli('stop')).code, 0);
  return { pids, crashed };
}

test('8 workers, lines of 1 byte to 64 KiB, to a pipe read by a fast reader: every line whole, tagged, once, in order', async (t) => {
  const port = await freePort();
  // 8 workers starting at once on a busy 2-core machine: serving may take a while.
  const h = await startHypnode(t, app(t), ['--workers', '8'], { env: { PORT: String(port) }, wait: false });
  await h.waitServing(60_000);
  const { pids, crashed } = await writeAndStop(h, port, () => h.output);
  await h.exited;
  checkLines(h.output, pids, crashed);
});

test('the same to a file, and to --log-file', async (t) => {
  for (const mode of ['stdout', '--log-file'] as const) {
    const dir = tempDir(t);
    const log = join(dir, 'out.log');
    const port = await freePort();
    const env = { HYPNODE_RUNTIME_DIR: dir, PORT: String(port) };
    const fd = openSync(log, 'a');
    const args = [CLI, 'start', app(t), '--workers', '8', ...(mode === '--log-file' ? ['--log-file', log] : [])];
    const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', mode === 'stdout' ? fd : 'ignore', fd] });
    closeSync(fd);
    const h = new Hypnode(proc, args[2]!, env);
    t.after(() => h.cleanup());
    await h.waitServing(60_000);
    const { pids, crashed } = await writeAndStop(h, port, () => readFileSync(log, 'utf8'));
    await h.exited;
    checkLines(readFileSync(log, 'utf8'), pids, crashed);
  }
});

test('a sink that takes nothing: the manager answers, reloads and supervises on, its memory bounded; lines are dropped and counted', async (t) => {
  const dir = tempDir(t);
  writeFileSync(
    join(dir, 'app.mjs'),
    `import http from 'node:http';
const line = 'x'.repeat(500);
setInterval(() => { for (let i = 0; i < 50; i++) console.log(line); }, 5);
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`,
  );
  const port = await freePort();
  const env = { HYPNODE_RUNTIME_DIR: dir, PORT: String(port) };
  // Its stdout is a pipe nobody reads (yet): full within a moment, taking nothing for the 1 s
  // window after. Its stderr is read.
  const proc = spawn(process.execPath, [CLI, 'start', join(dir, 'app.mjs'), '--workers', '2', '--heartbeat-interval', '0.2', '--heartbeat-timeout', '2', '--log-stall-timeout', '1'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const h = new Hypnode(proc, join(dir, 'app.mjs'), env);
  proc.stdout!.pause();
  t.after(() => h.cleanup());
  await h.waitServing(60_000);
  const first = (await quickStatus(h)).workers.map((w) => w.pid).sort();
  const s = await waitFor('lines dropped and counted', async () => {
    const now = await quickStatus(h);
    return now.logLinesDropped > 1000 ? now : null;
  }, 30_000, 200);
  assert.deepEqual(s.workers.map((w) => w.pid).sort(), first, 'no worker was killed for a missing heartbeat: none blocks on its output');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${h.pid}/status`, 'utf8'))![1]) / 1024;
  assert.ok(rss < 200, `the manager's memory stays bounded: ${rss.toFixed(0)} MiB`);
  assert.equal((await get(port)).status, 200);
  const reload = await ask(h, 'reload');
  assert.ok(reload.ok, `a reload works meanwhile: ${JSON.stringify(reload)}`);

  // Read again: the lines flow, and the log (stderr) says how many were dropped.
  proc.stdout!.resume();
  await waitFor('the count of dropped lines in the log', () => /warning: \d+ lines of output were dropped/.test(h.output), 15_000);
});
