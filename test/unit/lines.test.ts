import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineReader, MAX_LINE_BYTES } from '../../src/protocol/lines.js';

test('LineReader: lines split across chunks come out whole; a line over the limit is refused', () => {
  const lines: string[] = [];
  let overflows = 0;
  const r = new LineReader((l) => lines.push(l), () => overflows++);
  r.push('{"cmd":');
  r.push('"status"}\n{"a"');
  r.push(':1}\nrest');
  assert.deepEqual(lines, ['{"cmd":"status"}', '{"a":1}']);
  r.push('x'.repeat(MAX_LINE_BYTES));
  assert.equal(overflows, 1);
  r.push('ok\n');
  assert.deepEqual(lines.at(-1), 'ok', 'the reader starts afresh after an overflow');
});

test('LineReader: the limit is in bytes, with a limit of its own for long answers', () => {
  let overflows = 0;
  const r = new LineReader(() => {}, () => overflows++, 8);
  r.push('ééé'); // 6 bytes
  assert.equal(overflows, 0);
  r.push('é'); // 8 bytes: still fine
  assert.equal(overflows, 0);
  r.push('x');
  assert.equal(overflows, 1);
});
