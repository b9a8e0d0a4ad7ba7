import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { freePort, startHypnode, tempDir } from './support/hypnode.js';

// A worker's output before it is ready goes through its pipes to the manager, faster than the
// manager passes it on: a full pipe leaves the rest waiting in the worker. A worker that exits
// then (an uncaught error at boot, process.exit() just after it listens) must still deliver every
// line, whole: none lost, none cut where the pipe was full (see worker/blocking-pipes.ts).

const LINES = 200;
const SIZE = 16_000;

/** LINES lines of SIZE bytes at load, then `end`. */
function app(t: TestContext, end: string): string {
  const dir = tempDir(t);
  const path = join(dir, 'app.mjs');
  writeFileSync(
    path,
    `import fs from 'node:fs';
import http from 'node:http';
for (let i = 0; i < ${LINES}; i++) process.stdout.write(i + ':' + 'x'.repeat(${SIZE} - String(i).length - 1) + '\\n');
const first = !fs.existsSync(${JSON.stringify(join(dir, 'ran'))});
fs.writeFileSync(${JSON.stringify(join(dir, 'ran'))}, '');
${end}
`,
  );
  return path;
}

/** The lines of the first worker (the first tagged): all of them, whole, in order. */
function checkFirstWorker(output: string): void {
  const pid = /^\[g1 (\d+)\] 0:/m.exec(output)?.[1];
  assert.ok(pid, `the first worker's first line: ${output.slice(0, 300)}`);
  const seqs: number[] = [];
  for (const raw of output.split('\n')) {
    if (!raw.startsWith(`[g1 ${pid}] `)) continue;
    const m = /^(\d+):(x*)$/.exec(raw.slice(`[g1 ${pid}] `.length));
    if (!m) continue;
    assert.equal(m[1]!.length + 1 + m[2]!.length, SIZE, `line ${m[1]} whole`);
    seqs.push(Number(m[1]));
  }
  assert.deepEqual(seqs, Array.from({ length: LINES }, (_, i) => i), 'every line once, in order');
}

test('a worker that throws at boot after 3 MB of output: every line arrives whole, then its error', async (t) => {
  const h = await startHypnode(t, app(t, `throw new Error('boom at boot');`), ['--workers', '1', '--start-tries', '1'], { wait: false });
  assert.notEqual(await h.exited, 0, 'it gives up after the first try');
  checkFirstWorker(h.output);
  assert.match(h.output, /Error: boom at boot/);
});

test('a worker that exits as soon as it listens, after 3 MB of output: every line arrives whole', async (t) => {
  const port = await freePort();
  const h = await startHypnode(t, app(t, `http.createServer((req, res) => res.end('ok')).listen(${port}, '127.0.0.1', () => { if (first) process.exit(0); });`), ['--workers', '1'], { wait: false });
  // The first exits; the one started in its place serves.
  await h.waitServing(60_000);
  assert.equal((await h.cli('stop')).code, 0);
  await h.exited;
  checkFirstWorker(h.output);
});
