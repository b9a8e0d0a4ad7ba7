import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SETTINGS } from '../../src/config/settings.js';
import { StartTries } from '../../src/manager/start-tries.js';

test('StartTries: counted per slot; the limit-th death of a slot is the last try', () => {
  const tries = new StartTries(3);
  assert.deepEqual([tries.used(0), tries.used(1), tries.used(0), tries.used(1)], [false, false, false, false]);
  assert.equal(tries.used(0), true);
});

test('StartTries: 0 retries forever', () => {
  const tries = new StartTries(0);
  assert.ok(Array.from({ length: 100 }, () => tries.used(0)).every((last) => !last));
});

test('--start-tries defaults to 3 under systemd (NOTIFY_SOCKET), to 0 (forever) elsewhere', (t) => {
  const setting = SETTINGS.find((s) => s.key === 'startTries')!;
  const saved = process.env.NOTIFY_SOCKET;
  t.after(() => (saved === undefined ? delete process.env.NOTIFY_SOCKET : (process.env.NOTIFY_SOCKET = saved)));
  process.env.NOTIFY_SOCKET = '/run/systemd/notify';
  assert.equal(setting.default(), 3);
  delete process.env.NOTIFY_SOCKET;
  assert.equal(setting.default(), 0);
});
