import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseRequest } from '../../src/protocol/control.js';
import { startedNode } from '../../src/upgrade/node-path.js';

test('startedNode: the path the manager was started by, symlinks kept; a name is looked up on PATH as the kernel did', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hypnode-node-path-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const link = join(dir, 'node');
  symlinkSync(process.execPath, link);
  assert.equal(startedNode(link, {}), link, 'an upgraded link (nvm, n, alternatives) is followed at the next upgrade');
  assert.equal(startedNode('node', { PATH: `relative/bin:${dir}:/nonexistent` }), link);
});

test('startedNode: an argv[0] that is not this Node (or not found) falls back to process.execPath', () => {
  assert.equal(startedNode('/bin/sh', {}), process.execPath);
  assert.equal(startedNode('no-such-node-binary', { PATH: '/nonexistent' }), process.execPath);
  assert.equal(startedNode('node', {}), process.execPath);
});

test('parseRequest: upgrade with and without a node path; a bad one refused', () => {
  assert.deepEqual(parseRequest('{"cmd":"upgrade"}'), { cmd: 'upgrade' });
  assert.deepEqual(parseRequest('{"cmd":"upgrade","node":"/usr/bin/node"}'), { cmd: 'upgrade', node: '/usr/bin/node' });
  assert.equal(parseRequest('{"cmd":"upgrade","node":3}'), 'node must be a path');
  assert.equal(parseRequest('{"cmd":"upgrade","node":""}'), 'node must be a path');
});
