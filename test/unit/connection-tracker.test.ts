import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ConnectionTracker } from '../../src/worker/drain.js';
import { httpConnections } from '../../src/worker/http-connections.js';
import { PROBE_USER_AGENT } from '../../src/worker/ready-probe.js';
import { traffic } from '../../src/worker/traffic.js';
import { selfSigned } from '../support/self-signed.js';

// The drain reads node's own list of a server's HTTP/1 connections (an internal of node's http):
// these run on every Node line CI tests, so a Node that moves it fails here, not in a drain.

async function listening(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** `server` tracked and listening, and where the test keeps its clients (destroyed at its end, with the server). */
async function trackedServer(t: TestContext, tracker: ConnectionTracker, server: net.Server): Promise<{ port: number; clients: net.Socket[] }> {
  tracker.track(server);
  const port = await listening(server);
  const clients: net.Socket[] = [];
  t.after(() => {
    for (const client of clients) client.destroy();
    server.close();
  });
  return { port, clients };
}

/** Sends `request` on a new connection and resolves with the connection and the first bytes answered. */
async function send(port: number, request: string, clients: net.Socket[]): Promise<{ socket: net.Socket; answer: string }> {
  const socket = net.connect(port, '127.0.0.1');
  clients.push(socket);
  await once(socket, 'connect');
  socket.write(request);
  const [data] = (await once(socket, 'data')) as [Buffer];
  return { socket, answer: data.toString() };
}

test("httpConnections: node's list of a server's HTTP/1 connections, idle and busy", async (t) => {
  let hold: (() => void) | null = null;
  const server = http.createServer((req, res) => {
    if (req.url === '/slow') hold = () => res.end('slow');
    else res.end('fast');
  });
  const port = await listening(server);
  const agent = new http.Agent({ keepAlive: true });
  t.after(() => {
    agent.destroy();
    server.close();
  });
  const get = (path: string) => new Promise<void>((resolve, reject) => http.get({ port, host: '127.0.0.1', path, agent }, (res) => res.resume().on('end', resolve)).on('error', reject));
  const slow = get('/slow'); // busy until released
  while (!hold) await new Promise((r) => setTimeout(r, 5));
  await get('/'); // a second connection, idle from now on
  const sockets = httpConnections(server);
  assert.equal(sockets.length, 2);
  for (const socket of sockets) assert.ok(socket instanceof net.Socket && !socket.destroyed);
  (hold as () => void)();
  await slow;
});

test('ConnectionTracker: an upgrade no listener takes stays a plain request; one the app takes is closed as a WebSocket at the drain, which ends with it', { timeout: 10_000 }, async (t) => {
  const tracker = new ConnectionTracker(200);
  const server = http.createServer((_req, res) => res.end('plain'));
  const { port, clients } = await trackedServer(t, tracker, server);
  const upgrade = 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';

  const refused = await send(port, upgrade, clients);
  assert.match(refused.answer, /^HTTP\/1\.1 200 .*plain$/s, 'no upgrade listener: node answers it as a request');
  refused.socket.destroy();

  let closedWith: number | null = null;
  server.on('upgrade', (_req: http.IncomingMessage, socket: net.Socket) => {
    // What `ws` leaves on a socket it upgraded (long-lived.ts looks for it).
    (socket as unknown as Record<symbol, unknown>)[Symbol('websocket')] = {
      readyState: 1,
      close(code: number) {
        closedWith = code;
        socket.end();
      },
    };
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n');
  });
  const taken = await send(port, upgrade, clients);
  assert.match(taken.answer, /^HTTP\/1\.1 101 /);
  while (tracker.open !== 1) await new Promise((r) => setTimeout(r, 5)); // the refused one's close
  taken.socket.on('end', () => taken.socket.end());

  const drained = new Promise<void>((resolve) => tracker.drain(() => {}, () => {}, resolve));
  await drained;
  assert.equal(closedWith, 1001);
  assert.equal(tracker.open, 0);
  assert.equal(server.listening, false);
});

test("ConnectionTracker: counts and times the clients' answers, not the probe's, through a prototype the app swaps (express); draining, each answer closes its connection", { timeout: 10_000 }, async (t) => {
  const tracker = new ConnectionTracker(200);
  const server = http.createServer((req, res) => {
    // What express does to each response: a prototype of its own, below node's.
    if (req.url === '/express') Object.setPrototypeOf(res, Object.create(http.ServerResponse.prototype));
    res.statusCode = req.url === '/fail' ? 500 : 200;
    res.end('answer');
  });
  const { port, clients } = await trackedServer(t, tracker, server);
  const before = { ok: traffic.status[0]!, failed: traffic.status[3]!, timed: traffic.latency.reduce((a, b) => a + b, 0) };
  const get = (path: string, userAgent = 'test') => send(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${userAgent}\r\nConnection: close\r\n\r\n`, clients);
  for (const path of ['/', '/express', '/fail']) assert.match((await get(path)).answer, /^HTTP\/1\.1 (200|500) /);
  assert.match((await get('/', PROBE_USER_AGENT)).answer, /^HTTP\/1\.1 200 /);
  while (traffic.latency.reduce((a, b) => a + b, 0) - before.timed < 3) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 20)); // the probe's answer, were it counted
  assert.equal(tracker.requests, 3);
  assert.equal(traffic.status[0]! - before.ok, 2);
  assert.equal(traffic.status[3]! - before.failed, 1);
  assert.equal(traffic.latency.reduce((a, b) => a + b, 0) - before.timed, 3);

  const kept = await send(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', clients);
  assert.match(kept.answer, /keep-alive/i);
  const drained = new Promise<void>((resolve) => tracker.drain(() => {}, () => {}, resolve));
  kept.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  const [last] = (await once(kept.socket, 'data')) as [Buffer];
  assert.match(last.toString(), /^Connection: close\r$/im);
  await drained;
});

test("ConnectionTracker: an HTTPS server's answers are counted as well", { timeout: 10_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hypnode-tracker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  selfSigned(dir, 'localhost');
  const tracker = new ConnectionTracker(200);
  const server = https.createServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, (_req, res) => res.end('answer'));
  const { port } = await trackedServer(t, tracker, server);
  const timed = () => traffic.latency.reduce((a, b) => a + b, 0);
  const before = timed();
  await new Promise<void>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, rejectUnauthorized: false, agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject);
  });
  while (timed() === before) await new Promise((r) => setTimeout(r, 5));
  assert.equal(tracker.requests, 1);
});
