import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { test } from 'node:test';
import { isHttp2Server, isHttpServer, isTlsServer } from '../../src/worker/server-kinds.js';

const SERVER_KINDS = new URL('../../src/worker/server-kinds.js', import.meta.url).href;

test('server kinds: each of node\'s servers is told apart', () => {
  const kinds = (s: net.Server) => [isHttpServer(s), isHttp2Server(s), isTlsServer(s)];
  assert.deepEqual(kinds(http.createServer()), [true, false, false]);
  assert.deepEqual(kinds(https.createServer()), [true, false, true]);
  assert.deepEqual(kinds(http2.createServer()), [false, true, false]);
  assert.deepEqual(kinds(http2.createSecureServer()), [false, true, true]);
  assert.deepEqual(kinds(net.createServer()), [false, false, false]);
});

test('server kinds: telling a node:http server loads none of node:tls, node:https, node:http2 that node:http did not', () => {
  // In a process of its own: this one has loaded them all above. (Node 24's node:http loads
  // node:tls and node:http2 itself.)
  const added = execFileSync(process.execPath, ['--input-type=module', '-e', `
    import http from 'node:http';
    const before = new Set(process.moduleLoadList);
    const kinds = await import(${JSON.stringify(SERVER_KINDS)});
    const s = http.createServer();
    if (!kinds.isHttpServer(s) || kinds.isHttp2Server(s) || kinds.isTlsServer(s)) throw new Error('misjudged');
    console.log(JSON.stringify(process.moduleLoadList.filter((m) => !before.has(m) && /^NativeModule (tls|https|http2)$/.test(m))));
  `], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(added), []);
});
