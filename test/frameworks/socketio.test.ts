import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { brokenDeployUnderLoad, editFile, startFramework, type Framework, type FrameworkSpec } from '../support/frameworks.js';
import { waitFor } from '../support/hypnode.js';
import { reloadUnderLoad } from '../support/reload-under-load.js';

// Issue #10, point 4: socket.io 4 on node:http, with clients on the websocket transport alone
// (several workers share no session state, so polling would need sticky sessions). A reload
// closes the old workers' WebSockets cleanly (1001, going away) and the clients reconnect, to the
// new generation; a refused deploy leaves them connected to the old one.

const SOCKETIO: FrameworkSpec = {
  name: 'socketio',
  app: 'app.js',
  env: (port) => ({ PORT: String(port), HOST: '127.0.0.1' }),
};

/** The part of socket.io-client these tests use. */
interface ClientSocket {
  on(event: 'hello', listener: (hello: { version: string; pid: number; transport: string }) => void): void;
  on(event: 'disconnect', listener: (reason: string, details?: { context?: { code?: number } }) => void): void;
  disconnect(): void;
}
type Connect = (url: string, options: Record<string, unknown>) => ClientSocket;

interface Client {
  hellos: { version: string; pid: number; transport: string }[];
  disconnects: { reason: string; code: number | undefined }[];
}

/** Clients as the example's client.js makes them, from the deployed app's own socket.io-client. */
function connectClients(t: TestContext, fw: Framework, count: number): Client[] {
  const { io } = createRequire(join(fw.dir, 'package.json'))('socket.io-client') as { io: Connect };
  return Array.from({ length: count }, () => {
    const client: Client = { hellos: [], disconnects: [] };
    // Reconnection is bounded, and quicker than the default (about 1 s) to keep the test short.
    const socket = io(`http://127.0.0.1:${fw.port}`, { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500, reconnectionAttempts: 50 });
    socket.on('hello', (hello) => client.hellos.push(hello));
    socket.on('disconnect', (reason, details) => client.disconnects.push({ reason, code: details?.context?.code }));
    t.after(() => socket.disconnect());
    return client;
  });
}

const helloFrom = (clients: Client[], version: string) => () => clients.every((c) => c.hellos.at(-1)?.version === version);

test('socket.io (websocket transport): clients reconnect to the new code on reload; HTTP load fails nothing', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, SOCKETIO);
  const clients = connectClients(t, fw, 6);
  await waitFor('every client to be greeted by version 1', helloFrom(clients, '1'));

  await reloadUnderLoad(fw.h, fw.deploy, [{ port: fw.port }], ['2']);
  await waitFor('every client to be greeted by version 2', helloFrom(clients, '2'));
  const pids = new Set((await fw.h.status()).workers.filter((w) => w.generation === 2).map((w) => w.pid));
  for (const c of clients) {
    assert.deepEqual(c.disconnects, [{ reason: 'transport close', code: 1001 }], 'one clean close (1001, going away) by the old worker');
    assert.deepEqual(c.hellos.map((h) => h.version), ['1', '2']);
    assert.ok(pids.has(c.hellos[1]!.pid), `reconnected to a new worker (${c.hellos[1]!.pid} of ${[...pids].join(', ')})`);
    assert.ok(c.hellos.every((h) => h.transport === 'websocket'));
  }
});

test('socket.io: a deploy that throws at start is refused under load, and connected clients stay', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, SOCKETIO);
  const clients = connectClients(t, fw, 4);
  await waitFor('every client to be greeted by version 1', helloFrom(clients, '1'));
  await brokenDeployUnderLoad(fw, '2', {
    breakIt: () => editFile(join(fw.dir, 'app.js'), (code) => `throw new Error('REDIS_URL is not set (broken deploy)');\n${code}`),
    error: /REDIS_URL is not set \(broken deploy\)/,
  }, t);
  // The refused deploy left the clients alone; the good reload that followed moved them.
  await waitFor('every client to be greeted by version 2', helloFrom(clients, '2'));
  for (const c of clients) assert.deepEqual(c.hellos.map((h) => h.version), ['1', '2']);
});
