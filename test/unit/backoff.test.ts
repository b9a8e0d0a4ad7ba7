import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../src/manager/backoff.js';

test('Backoff: the first crash is replaced at once, then 0.1 s doubling up to 15 s', () => {
  const b = new Backoff();
  const delays = Array.from({ length: 12 }, () => b.failed(null, 0));
  assert.deepEqual(delays, [0, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000, 15000]);
});

test('Backoff: a worker that served 10 s before it crashed starts the count again', () => {
  const b = new Backoff();
  b.failed(null, 0);
  b.failed(null, 0);
  assert.equal(b.failed(1000, 10_999), 200, 'ready for less than 10 s: the count goes on');
  assert.equal(b.failed(1000, 11_000), 0, 'ready for 10 s: a fresh start');
});
