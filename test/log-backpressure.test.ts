import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { quickStatus } from './support/faults.js';
import { CLI, freePort, Hypnode, startHypnode, tempDir, waitFor } from './support/hypnode.js';

// Issue #30: a sink that is only slow loses nothing. Workers hold their lines, in order, and
// write them as the sink takes them; they drop only past --log-buffer, or once the sink has
// taken nothing for --log-stall-timeout, and the count they drop is the count the log says and
// status shows.

/** Each worker writes `PID:SEQ:` and filler, `count` lines of `size` bytes, `batch` lines every `everyMs`. */
function app(t: TestContext, opts: { count: number; size: number; batch: number; everyMs: number }): string {
  const path = join(tempDir(t), 'app.mjs');
  writeFileSync(
    path,
    `import http from 'node:http';
const { count, size, batch, everyMs } = ${JSON.stringify(opts)};
let seq = 0;
const line = () => { const head = 'L ' + process.pid + ':' + seq + ':'; seq++; return head + 'x'.repeat(size - head.length); };
const more = () => { for (let i = 0; i < batch && seq < count; i++) console.log(line()); if (seq < count) setTimeout(more, everyMs); };
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => setTimeout(more, 500));
`,
  );
  return path;
}

/** The sequence numbers each worker's lines arrived with, in the order they arrived. */
function seqsByPid(output: string): Map<number, number[]> {
  const seqs = new Map<number, number[]>();
  for (const m of output.matchAll(/^\[g1 (\d+)\] L (\d+):(\d+):x+$/gm)) {
    assert.equal(m[1], m[2], 'a line under the tag of the worker that wrote it');
    const pid = Number(m[1]);
    if (!seqs.has(pid)) seqs.set(pid, []);
    seqs.get(pid)!.push(Number(m[3]));
  }
  return seqs;
}

/** Reads the manager's stdout as a reader that keeps up on average but pauses `pauseMs` every `chunks` chunks. */
function pausingReader(h: Hypnode, chunks: number, pauseMs: number): void {
  let n = 0;
  h.proc.stdout!.on('data', () => {
    if (++n % chunks !== 0) return;
    h.proc.stdout!.pause();
    setTimeout(() => h.proc.stdout!.resume(), pauseMs);
  });
}

test('4 workers x 20,000 lines through a reader that pauses 300 ms every 200 chunks: 80,000 of 80,000, in order', async (t) => {
  const count = 20_000;
  const port = await freePort();
  const h = await startHypnode(t, app(t, { count, size: 115, batch: count, everyMs: 0 }), ['--workers', '4'], { env: { PORT: String(port) }, wait: false });
  pausingReader(h, 200, 300);
  await h.waitServing(30_000);
  await waitFor('every line', () => [...seqsByPid(h.output).values()].reduce((n, s) => n + s.length, 0) >= 4 * count || null, 120_000, 500).catch(() => {});
  const seqs = seqsByPid(h.output);
  const got = [...seqs.values()].reduce((n, s) => n + s.length, 0);
  assert.equal(got, 4 * count, `every line arrived: ${got} of ${4 * count}`);
  for (const [pid, s] of seqs) assert.ok(s.every((seq, i) => seq === i), `worker ${pid}: in order, once each`);
  assert.equal((await quickStatus(h)).logLinesDropped, 0, 'none dropped');
});

/**
 * A reader that stops (for good, as far as the workers can tell): 2 workers write on; each holds
 * what the pipe cannot take, drops once the sink has taken nothing for the window (or its budget
 * is full), and, the reader back, writes again. The lines missing are exactly those counted, in
 * status and in the log.
 */
async function stoppedReader(t: TestContext, flags: string[], opts: { size: number; batch: number; everyMs: number; merged?: boolean }): Promise<{ firstDropAfterMs: number; dropped: number }> {
  const port = await freePort();
  const count = 1_000_000;
  const file = app(t, { count, ...opts });
  const args = ['--workers', '2', '--heartbeat-interval', '0.2', '--heartbeat-timeout', '5', ...flags];
  const h = opts.merged ? await mergedOutput(t, file, args, { PORT: String(port) }) : await startHypnode(t, file, args, { env: { PORT: String(port) } });
  const pids = (await quickStatus(h)).workers.map((w) => w.pid);
  await waitFor('lines from both workers', () => seqsByPid(h.output).size === 2 || null, 15_000);
  h.proc.stdout!.pause();
  const pausedAt = performance.now();
  let firstDropAfterMs = 0;
  await waitFor('lines dropped by both workers', async () => {
    const { workers } = await quickStatus(h);
    if (!firstDropAfterMs && workers.some((w) => w.linesDropped > 0)) firstDropAfterMs = performance.now() - pausedAt;
    return workers.every((w) => w.linesDropped > 0) || null;
  }, 20_000, 100);
  // Dropping on meanwhile; then the reader is back.
  await new Promise((r) => setTimeout(r, 1000));
  h.proc.stdout!.resume();
  await waitFor('both writing again', () => [...seqsByPid(h.output).values()].every((s) => s.length > 0 && s.at(-1)! > s.length + 100) || null, 20_000);
  // Stop writing: the workers exit (each sends its last count) and the manager says what was dropped.
  const { code } = await h.cli('stop');
  assert.equal(code, 0);
  await h.exited;
  const seqs = seqsByPid(h.output);
  let missing = 0;
  for (const pid of pids) {
    const s = seqs.get(pid)!;
    assert.ok(s.every((seq, i) => i === 0 || seq > s[i - 1]!), `worker ${pid}: in order`);
    missing += s.at(-1)! + 1 - s.length;
  }
  const said = [...h.output.matchAll(/warning: (\d+) lines of output were dropped.*; (\d+) in all/g)];
  assert.ok(said.length > 0, 'the log says lines were dropped');
  const sum = said.reduce((n, m) => n + Number(m[1]), 0);
  assert.equal(sum, missing, `the counts said in the log (${said.map((m) => m[1]).join(' + ')}) add up to the lines missing (${missing})`);
  assert.equal(Number(said.at(-1)![2]), missing, 'and the last report says the total');
  return { firstDropAfterMs, dropped: missing };
}

/** hypnode with its stdout and stderr one pipe (`2>&1`): its own reports wait in the same stalled pipe. */
async function mergedOutput(t: TestContext, file: string, args: string[], env: Record<string, string>): Promise<Hypnode> {
  const all = { ...env, HYPNODE_RUNTIME_DIR: tempDir(t) };
  const proc = spawn('sh', ['-c', 'exec "$0" "$@" 2>&1', process.execPath, CLI, 'start', file, ...args], { env: { ...process.env, ...all }, stdio: ['ignore', 'pipe', 'ignore'] });
  const h = new Hypnode(proc, file, all);
  t.after(() => h.cleanup());
  await h.waitServing(30_000);
  return h;
}

test('a reader that stops: lines are held for --log-stall-timeout, then dropped and counted exactly, and flow again when it reads', async (t) => {
  // 100 kB/s a worker: the pipe fills in well under a second, a 4 MiB budget would take 40 s.
  const { firstDropAfterMs } = await stoppedReader(t, ['--log-stall-timeout', '1.5', '--log-buffer', String(4 * 1024 * 1024)], { size: 1000, batch: 10, everyMs: 100 });
  // The pipe fills within a moment of the pause; nothing is dropped for the window after that.
  assert.ok(firstDropAfterMs >= 1500, `no line dropped before the sink took nothing for the window: the first ${firstDropAfterMs.toFixed(0)} ms after the pause`);
});

test('a reader that stops: a worker holds --log-buffer, then drops, counted exactly', async (t) => {
  // 1 MB/s a worker: the 64 KiB budget is full within a moment, long before the 60 s window.
  const { firstDropAfterMs } = await stoppedReader(t, ['--log-stall-timeout', '60', '--log-buffer', '65536'], { size: 200, batch: 50, everyMs: 10 });
  assert.ok(firstDropAfterMs < 20_000, `dropped once the budget was full: ${firstDropAfterMs.toFixed(0)} ms after the pause`);
});

test('the same with stdout and stderr one pipe: the reports wait in the stalled pipe too, and are said once it is read', async (t) => {
  await stoppedReader(t, ['--log-stall-timeout', '1'], { size: 1000, batch: 10, everyMs: 100, merged: true });
});
