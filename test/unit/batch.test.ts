import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAdminAddress } from '../../src/admin/server.js';
import { batchSize } from '../../src/manager/batch.js';

test('batchSize: a count or a share of the workers, rounded up, at least one and at most all', () => {
  assert.equal(batchSize(null, 8), 8, 'unset: every worker at once');
  assert.equal(batchSize(null, 8, 1), 1, 'unset, for recycling: one at a time');
  assert.equal(batchSize(2, 8), 2);
  assert.equal(batchSize('3', 8), 3);
  assert.equal(batchSize(20, 8), 8);
  assert.equal(batchSize('25%', 8), 2);
  assert.equal(batchSize('25%', 10), 3);
  assert.equal(batchSize('1%', 8), 1);
  assert.equal(batchSize('100%', 8), 8);
});

test('parseAdminAddress: host:port, [v6]:port, a bare port on loopback, a unix socket path', () => {
  assert.deepEqual(parseAdminAddress('127.0.0.1:9100'), { host: '127.0.0.1', port: 9100, path: null });
  assert.deepEqual(parseAdminAddress('0.0.0.0:9100'), { host: '0.0.0.0', port: 9100, path: null });
  assert.deepEqual(parseAdminAddress('[::1]:9100'), { host: '::1', port: 9100, path: null });
  assert.deepEqual(parseAdminAddress('9100'), { host: '127.0.0.1', port: 9100, path: null });
  assert.deepEqual(parseAdminAddress('/run/app/admin.sock'), { host: null, port: 0, path: '/run/app/admin.sock' });
});
