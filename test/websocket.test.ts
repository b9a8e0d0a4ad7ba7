import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';
import { installedExample } from './support/examples.js';
import { freePort, startHypnode } from './support/hypnode.js';

// Issue #6, point 3: long-lived connections on an old worker end cleanly during its drain. The
// app hears of the drain first (onDrain) and says goodbye; the app does not close anything
// itself, hypnode does: WebSockets with 1001 (going away), event streams with their end. A
// client that reconnects at once reaches the new code.

interface WsSession {
  ws: WebSocket;
  /** The first message, the app's hello. */
  hello: Promise<{ hello: string }>;
  /** Every message and the close code, once the server has closed. */
  closed: Promise<{ code: number; messages: Record<string, unknown>[] }>;
}

function openWs(port: number): WsSession {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  const messages: Record<string, unknown>[] = [];
  const hello = new Promise<{ hello: string }>((resolve, reject) => {
    ws.once('message', (data) => resolve(JSON.parse(String(data)) as { hello: string }));
    ws.once('error', reject);
  });
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  const closed = new Promise<{ code: number; messages: Record<string, unknown>[] }>((resolve) => ws.once('close', (code) => resolve({ code, messages })));
  return { ws, hello, closed };
}

interface SseSession {
  request: http.ClientRequest;
  /** The first event, the app's hello, as "name data". */
  first: Promise<string>;
  /** Every event received, once the stream has ended cleanly. */
  ended: Promise<string[]>;
}

function openSse(port: number): SseSession {
  let first!: (event: string) => void;
  const events: string[] = [];
  let request!: http.ClientRequest;
  const ended = new Promise<string[]>((resolve, reject) => {
    request = http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
          const m = /^event: (\w+)\ndata: (.*)$/.exec(text.slice(0, end));
          text = text.slice(end + 2);
          if (m) events.push(`${m[1]} ${m[2]}`);
          if (events.length === 1) first(events[0]!);
        }
      });
      res.on('end', () => resolve(events));
      res.on('aborted', () => reject(new Error(`event stream aborted after ${JSON.stringify(events)}`)));
      res.on('error', reject);
    });
    request.on('error', reject);
  });
  return { request, first: new Promise((resolve) => (first = resolve)), ended };
}

test('on reload, WebSockets get goodbye then 1001, event streams end, and clients reconnect to the new code at once', async (t) => {
  const { dir, app } = installedExample(t, 'websocket');
  const port = await freePort();
  // A graceful timeout far beyond the test's: a clean close must come from the drain, not a kill.
  const h = await startHypnode(t, app, ['--workers', '2', '--graceful-timeout', '120'], { env: { PORT: String(port) } });

  const sockets = Array.from({ length: 6 }, () => openWs(port));
  const streams = Array.from({ length: 3 }, () => openSse(port));
  for (const s of sockets) assert.equal((await s.hello).hello, '1');
  for (const s of streams) assert.equal(await s.first, 'hello 1');

  // Each client reconnects the moment it is closed, as a browser app would. On a busy machine a
  // reconnection can beat a sibling old worker to its drain (each old worker stops accepting as
  // it gets the word, not all at once): that one is then closed in the same clean way, and the
  // next reconnection reaches the new code.
  const reconnects = sockets.map(async (s) => {
    const { code, messages } = await s.closed;
    let next = openWs(port);
    t.after(() => next.ws.terminate());
    let again = await next.hello;
    if (again.hello === '1') {
      const second = await next.closed;
      assert.equal(second.code, 1001, 'a reconnection that reached a sibling old worker is closed cleanly too');
      next = openWs(port);
      t.after(() => next.ws.terminate());
      again = await next.hello;
    }
    return { code, messages, again };
  });
  const resubscribes = streams.map(async (s) => {
    const events = await s.ended;
    const subscribe = () => {
      const next = openSse(port);
      next.ended.catch(() => {}); // ended by the test's cleanup
      t.after(() => next.request.destroy());
      return next;
    };
    let next = subscribe();
    let again = await next.first;
    // The same race as above: a sibling old worker ends its stream cleanly too.
    if (again === 'hello 1') {
      assert.deepEqual(await next.ended, ['hello 1', 'goodbye 1']);
      next = subscribe();
      again = await next.first;
    }
    return { events, again };
  });

  writeFileSync(join(dir, 'version.txt'), '2\n');
  const reload = await h.cli('reload');
  assert.equal(reload.code, 0, reload.stderr);

  for (const { code, messages, again } of await Promise.all(reconnects)) {
    assert.equal(code, 1001, 'closed with 1001 (going away)');
    assert.deepEqual(messages.slice(1), [{ goodbye: '1' }], 'the app said goodbye before the close');
    assert.equal(again.hello, '2', 'the reconnection reached the new code');
  }
  for (const { events, again } of await Promise.all(resubscribes)) {
    assert.deepEqual(events, ['hello 1', 'goodbye 1'], 'the stream ended cleanly after the goodbye');
    assert.equal(again, 'hello 2', 'the new stream comes from the new code');
  }
  const status = await h.status();
  assert.ok(status.workers.every((w) => w.generation === 2), 'the old workers exited (drained, not killed: the graceful timeout is 120 s)');
});
