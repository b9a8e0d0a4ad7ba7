import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SocketList } from '../../src/worker/socket-list.js';

test('SocketList: holds what was added and not yet deleted, in any order of deletes; one item in two lists', () => {
  const a = new SocketList<{ n: number }>();
  const b = new SocketList<{ n: number }>();
  const items = Array.from({ length: 50 }, (_, n) => ({ n }));
  const kept = new Set(items);
  for (const item of items) a.add(item);
  b.add(items[7]!);
  // Deletes from the middle, the end, the front, twice, and of an item never added.
  for (const n of [10, 49, 0, 10, 25, 1, 48, 24, 26]) {
    a.delete(items[n]!);
    kept.delete(items[n]!);
    assert.equal(a.size, kept.size);
    assert.deepEqual(new Set(a), kept);
  }
  a.delete({ n: -1 });
  assert.equal(a.size, kept.size);
  // b has its own slot on the same item: a's moves do not disturb it.
  assert.deepEqual([...b], [items[7]]);
  b.delete(items[7]!);
  assert.equal(b.size, 0);
  assert.ok([...a].includes(items[7]!));
  // Iterating gives a copy: deleting meanwhile skips nothing.
  const seen: number[] = [];
  for (const item of a) {
    seen.push(item.n);
    a.delete(item);
  }
  assert.equal(seen.length, kept.size);
  assert.equal(a.size, 0);
});
