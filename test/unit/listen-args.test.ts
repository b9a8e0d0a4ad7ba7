import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseListenArgs } from '../../src/worker/listen-args.js';

const cb = () => {};

test('parseListenArgs: the forms node accepts, as node reads them', () => {
  const tcp = (host: string | null, port: number, ipv6Only = false) => ({ kind: 'tcp', host, port, ipv6Only });
  assert.deepEqual(parseListenArgs([3000]), { key: tcp(null, 3000), backlog: undefined, callback: undefined });
  assert.deepEqual(parseListenArgs(['3000', '127.0.0.1', 128, cb]), { key: tcp('127.0.0.1', 3000), backlog: 128, callback: cb });
  assert.deepEqual(parseListenArgs([3000, 64]), { key: tcp(null, 3000), backlog: 64, callback: undefined });
  assert.deepEqual(parseListenArgs([{ port: 8080, host: '::1', ipv6Only: true, backlog: 10 }]), { key: tcp('::1', 8080, true), backlog: 10, callback: undefined });
  assert.deepEqual(parseListenArgs([cb]), { key: tcp(null, 0), backlog: undefined, callback: cb }, 'no port: any port');
  assert.deepEqual(parseListenArgs(['/run/app.sock', cb]), { key: { kind: 'unix', path: '/run/app.sock' }, backlog: undefined, callback: cb });
  assert.deepEqual(parseListenArgs([{ path: '/run/app.sock' }])?.key, { kind: 'unix', path: '/run/app.sock' });
});

test('parseListenArgs: what hypnode leaves to node', () => {
  assert.equal(parseListenArgs([{ fd: 3 }]), null, 'an explicit fd');
  assert.equal(parseListenArgs([{ handle: {} }]), null, 'an explicit handle');
  assert.equal(parseListenArgs([{ port: 80, exclusive: true }]), null, 'exclusive: a socket of its own');
  assert.equal(parseListenArgs([70000]), null, 'not a port');
  assert.equal(parseListenArgs([1.5]), null);
});
