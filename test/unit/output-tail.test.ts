import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { OutputTail } from '../../src/manager/output-tail.js';
import { LastWords } from '../../src/worker/last-words.js';

const MARKER = '\0hypnode:write-directly:0123456789abcdef';

test("the tail keeps the lines passed on and a worker's last words, in order, never the marker", async () => {
  const tail = new OutputTail();
  const pipe = new PassThrough();
  const passed: string[] = [];
  let seen = 0;
  tail.follow(pipe, (batch) => passed.push(...batch.map(String)), { line: Buffer.from(`${MARKER}\n`), seen: () => seen++ });
  const words = new LastWords();
  words.keep('serving\n');
  words.keep(Buffer.from('FATAL: gone\n'));
  pipe.write(`booting\n${MARKER}`);
  pipe.write(`\nruntime line\n${words.line(MARKER)}`);
  pipe.end('after\n');
  await new Promise((resolve) => pipe.on('end', resolve));
  assert.equal(seen, 1);
  assert.deepEqual(passed, ['booting\n', 'runtime line\n', 'after\n'], 'the last words are not logged again: they were');
  assert.equal(tail.text(), 'booting\nruntime line\nserving\nFATAL: gone\nafter\n');
});

test('last words keep the last 3000 bytes, in one line a pipe takes whole (PIPE_BUF), and nothing when nothing was written', () => {
  const words = new LastWords();
  assert.equal(words.line(MARKER), null);
  for (let i = 0; i < 1000; i++) words.keep(`line ${i} ${'x'.repeat(40)}\n`);
  const line = words.line(MARKER)!;
  assert.ok(line.startsWith(`${MARKER}:last-words:`) && line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
  assert.ok(Buffer.byteLength(line) <= 4096, `${Buffer.byteLength(line)} bytes`);
  const kept = Buffer.from(line.slice(MARKER.length + ':last-words:'.length), 'base64').toString();
  assert.ok(kept.length <= 3000 && kept.endsWith(`line 999 ${'x'.repeat(40)}\n`));
  assert.equal(words.line(MARKER), null, 'said once');
});
