import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrafficHistory } from '../../src/manager/traffic-history.js';
import { noTraffic } from '../../src/protocol/traffic.js';

test('traffic history: the counts between two moments, to heartbeat precision; a worker newer than the window counts from zero', () => {
  const h = new TrafficHistory();
  const at = (n: number) => ({ ...noTraffic(), status: [n, 0, 0, 0] as [number, number, number, number] });
  assert.deepEqual(h.between(0, 10).status, [0, 0, 0, 0]);
  h.add(at(100), 1000);
  h.add(at(250), 2000);
  h.add(at(400), 3000);
  assert.equal(h.between(1500, 3500).status[0], 300, 'from the heartbeat at 1 s to the one at 3 s');
  assert.equal(h.between(500, 2000).status[0], 250, 'before its first heartbeat: zero');
  for (let t = 4; t < 200; t++) h.add(at(t * 100), t * 1000);
  // 120 heartbeats are kept: from the one at 80 s.
  assert.equal(h.at(0).status[0], 8_000, 'the oldest kept stands for before it, not zero: a window cut short, not one reaching back to the start');
  assert.equal(h.between(0, 199_000).status[0], 19_900 - 8_000);
});
