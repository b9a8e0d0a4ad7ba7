import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { outputLock, setNonBlocking } from '../../src/native.js';
import { OutputQueue } from '../../src/worker/output-queue.js';

// The worker's output queue against a real pipe (a FIFO opened for reading and writing, made
// non-blocking as the manager makes its sinks): held in order while the pipe is full, dropped
// only past the budget or the stall window, and the count of drops exact.

const LINE = 100;

function pipe(t: TestContext): number {
  const dir = mkdtempSync(join(tmpdir(), 'hypnode-queue-'));
  execFileSync('mkfifo', [join(dir, 'fifo')]);
  const fd = openSync(join(dir, 'fifo'), 'r+');
  setNonBlocking(fd);
  t.after(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true });
  });
  return fd;
}

const line = (seq: number) => Buffer.from(`${String(seq).padStart(8, '0')}:${'x'.repeat(LINE - 10)}\n`);

/** Everything in the pipe now. */
function readAll(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    try {
      const n = readSync(fd, buf);
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw err;
    }
  }
  return Buffer.concat(chunks).toString();
}

/** Reads whole lines from the pipe until `until` says it has enough, or the deadline (then the caller's assertions fail). */
async function readUntil(fd: number, until: (lines: string[]) => boolean, ms = 20_000): Promise<string[]> {
  let text = '';
  const lines: string[] = [];
  for (const end = Date.now() + ms; !until(lines) && Date.now() < end; await sleep(5)) {
    text += readAll(fd);
    const cut = text.lastIndexOf('\n') + 1;
    lines.push(...text.slice(0, cut).split('\n').filter(Boolean));
    text = text.slice(cut);
  }
  return lines;
}

const seqs = (lines: string[]) => lines.map((l) => Number(l.slice(0, 8)));

function queue(fd: number, limit: number, stallMs: number, batchMs?: number): { q: OutputQueue; dropped: () => number } {
  let dropped = 0;
  const q = new OutputQueue({ fd, lockFd: outputLock() }, { held: 0, limit }, stallMs, (n) => void (dropped += n), batchMs);
  return { q, dropped: () => dropped };
}

test('a full pipe: lines are held in order and written as it is read, none dropped', async (t) => {
  const fd = pipe(t);
  const { q, dropped } = queue(fd, 1024 * 1024, 60_000);
  // 300 kB at once: the pipe takes 64 KiB, the rest waits.
  for (let i = 0; i < 3000; i++) q.lines(line(i), 1);
  const got = await readUntil(fd, (l) => l.length >= 3000);
  assert.deepEqual(seqs(got), Array.from({ length: 3000 }, (_, i) => i), 'every line once, in order');
  assert.equal(dropped(), 0);
});

test('a long line is never torn: a full pipe takes part of it, the rest follows before anything else', async (t) => {
  const fd = pipe(t);
  const { q } = queue(fd, 1024 * 1024, 60_000);
  const long = Buffer.from(`${'L'.repeat(200_000)}\n`);
  q.lines(line(0), 1);
  q.lines(long, 1);
  q.lines(line(1), 1);
  const got = await readUntil(fd, (l) => l.length >= 3);
  assert.deepEqual(got.map((l) => l.length), [LINE - 1, 200_000, LINE - 1]);
});

test('the budget full: later lines are dropped and counted exactly', async (t) => {
  const fd = pipe(t);
  const { q, dropped } = queue(fd, 65_536, 60_000);
  for (let i = 0; i < 3000; i++) q.lines(line(i), 1);
  const got = await readUntil(fd, (l) => l.length + dropped() >= 3000);
  assert.ok(dropped() > 0, 'some dropped');
  assert.equal(got.length + dropped(), 3000, `written (${got.length}) and dropped (${dropped()}) add up`);
  assert.deepEqual(seqs(got), Array.from({ length: got.length }, (_, i) => i), 'what came is what was written first, in order');
});

test('a pipe that takes nothing for the stall window: what is held is dropped, counted, and lines flow again once it is read', async (t) => {
  const fd = pipe(t);
  const { q, dropped } = queue(fd, 1024 * 1024, 300);
  const start = performance.now();
  for (let i = 0; i < 1000; i++) q.lines(line(i), 1);
  while (dropped() === 0 && performance.now() - start < 20_000) await sleep(20);
  assert.ok(performance.now() - start >= 300, 'nothing dropped within the window');
  const first = readAll(fd).split('\n').filter(Boolean);
  assert.equal(first.length + dropped(), 1000, `what the pipe took (${first.length}) and what was dropped (${dropped()}) add up`);
  for (let i = 1000; i < 1100; i++) q.lines(line(i), 1);
  const more = await readUntil(fd, (l) => l.length >= 100);
  assert.deepEqual(seqs([...first, ...more]), [...Array.from({ length: first.length }, (_, i) => i), ...Array.from({ length: 100 }, (_, i) => 1000 + i)], 'in order; then the lines written after, all of them');
});

// Plain lines (text()) of one event-loop turn go as one write when the turn ends: never after a
// line written later, and at once when finish() says the worker is leaving.

const plain = (seq: number) => `${String(seq).padStart(8, '0')}:${'p'.repeat(LINE - 10)}\n`;
const turnEnd = () => new Promise((resolve) => setImmediate(resolve));

test('the plain lines of a turn are written at its end, or before any line given as bytes after them', async (t) => {
  const fd = pipe(t);
  const { q, dropped } = queue(fd, 1024 * 1024, 60_000);
  q.text('[g1 1] ', plain(0));
  q.text('[g1 1] ', plain(1));
  assert.equal(readAll(fd), '', 'nothing written within the turn');
  q.lines(line(2), 1);
  q.text('[g1 1] ', plain(3));
  assert.equal(readAll(fd), `[g1 1] ${plain(0)}[g1 1] ${plain(1)}${line(2).toString()}`, 'the bytes after the turn\'s first lines, not before');
  await turnEnd();
  assert.equal(readAll(fd), `[g1 1] ${plain(3)}`, 'the rest at the turn\'s end');
  assert.equal(dropped(), 0);
});

test('lines that follow a write within the batch window wait past their turn for the next turns\' lines, and go with them within it', async (t) => {
  const fd = pipe(t);
  // A window far wider than BATCH_MS: the event loop's clock, which timers count from, may lag
  // performance.now() by a millisecond or two, more than BATCH_MS's margin on a busy machine.
  const batchMs = 200;
  const { q, dropped } = queue(fd, 1024 * 1024, 60_000, batchMs);
  q.text('', plain(0));
  await turnEnd();
  assert.equal(readAll(fd), plain(0), 'the first line after a pause goes at its turn\'s end');
  const t0 = performance.now();
  q.text('', plain(1));
  await turnEnd();
  const heldPastTurn = readAll(fd);
  if (performance.now() - t0 < batchMs / 2) assert.equal(heldPastTurn, '', 'written within the window of the last write: held past its turn');
  q.text('', plain(2));
  await sleep(batchMs * 3);
  assert.equal(heldPastTurn + readAll(fd), plain(1) + plain(2), 'both, in order, within the window');
  assert.equal(dropped(), 0);
});

test('a full pipe: plain lines and bytes are held in one order and written as it is read, none dropped', async (t) => {
  const fd = pipe(t);
  const { q, dropped } = queue(fd, 4 * 1024 * 1024, 60_000);
  for (let i = 0; i < 3000; i++) {
    if (i % 7 === 0) q.lines(line(i), 1);
    else q.text('', plain(i));
    if (i % 50 === 0) await turnEnd();
  }
  const got = await readUntil(fd, (l) => l.length >= 3000);
  assert.deepEqual(seqs(got), Array.from({ length: 3000 }, (_, i) => i), 'every line once, in order');
  assert.equal(dropped(), 0);
});

test('a large turn is written as it grows, and finish() writes the rest at once', (t) => {
  const fd = pipe(t);
  const { q } = queue(fd, 1024 * 1024, 60_000);
  for (let i = 0; i < 200; i++) q.text('', plain(i));
  const before = readAll(fd).split('\n').filter(Boolean);
  assert.ok(before.length > 0 && before.length < 200, `part written within the turn (${before.length} of 200 lines)`);
  q.finish();
  const after = readAll(fd).split('\n').filter(Boolean);
  assert.deepEqual(seqs([...before, ...after]), Array.from({ length: 200 }, (_, i) => i), 'all, in order, before the turn ends');
});
