import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import { MAX_LINE_BYTES } from '../src/protocol/lines.js';
import { controlPaths, faultApp, get, quickStatus, sleep } from './support/faults.js';
import { freePort, startHypnode, type Hypnode } from './support/hypnode.js';

// Issue #5, the control channel under bad input: malformed, oversized and random requests, and
// clients that connect and say nothing, get a refusal or are let go; none crashes or stalls
// the manager, which keeps answering and serving.

interface Exchange {
  reply: string;
  /** How long the manager took to close the connection. */
  closedAfterMs: number;
}

/** Sends `data` raw (then half-closes, unless `keepOpen`) and reads until the manager closes. */
function exchange(h: Hypnode, data: Buffer | string, keepOpen = false): Promise<Exchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(controlPaths(h).socket);
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (reply += d));
    socket.on('error', () => {}); // a reset after an oversized request is one of the answers
    socket.once('connect', () => {
      socket.write(data);
      if (!keepOpen) socket.end();
    });
    socket.once('close', () => resolve({ reply, closedAfterMs: Date.now() - started }));
  });
}

/** Status answers promptly: the manager is neither down nor stalled. */
async function responsive(h: Hypnode, generation: number): Promise<void> {
  const started = Date.now();
  const s = await quickStatus(h);
  assert.ok(Date.now() - started < 3000, `status took ${Date.now() - started} ms`);
  assert.equal(s.state, 'serving');
  assert.equal(s.generation, generation, 'nothing reloaded or stopped the manager');
}

test('malformed and oversized requests get a one-line refusal; the manager answers on', async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const cases: [string, RegExp][] = [
    ['\n', /request is not JSON/],
    ['null\n', /unknown command/],
    ['[]\n', /unknown command/],
    ['"reload"\n', /unknown command/],
    ['{"cmd":1}\n', /unknown command/],
    ['{"cmd":"__proto__"}\n', /unknown command/],
    ['{"cmd":"reload "}\n', /unknown command/],
    ['{"cmd":"status"\n', /request is not JSON/],
    ['\ufeff{"cmd":"status"}\n', /request is not JSON/],
    [`${'['.repeat(60_000)}\n`, /request is not JSON/],
    ['x'.repeat(MAX_LINE_BYTES + 1), /request too long/],
  ];
  for (const [data, expected] of cases) {
    const { reply } = await exchange(h, data);
    const lines = reply.trim().split('\n');
    assert.equal(lines.length, 1, `one reply line for ${JSON.stringify(data.slice(0, 40))}: ${reply}`);
    const parsed = JSON.parse(lines[0]!) as { ok: boolean; error: string };
    assert.equal(parsed.ok, false);
    assert.match(parsed.error, expected);
  }
  // A megabyte without a newline: refused once the line limit is passed, not read to the end.
  const big = await exchange(h, 'x'.repeat(1024 * 1024));
  assert.match(big.reply, /request too long/);
  // Only the first line counts; what follows it is ignored.
  const two = await exchange(h, '{"cmd":"status"}\n{"cmd":"stop"}\n');
  assert.equal((JSON.parse(two.reply.trim().split('\n').pop()!) as { ok: boolean }).ok, true);
  await responsive(h, 1);
});

test('random bytes from many clients at once never crash or stall the manager', async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const CLIENTS = 400;
  const BATCH = 25;
  let replies = 0;
  for (let i = 0; i < CLIENTS; i += BATCH) {
    const batch = Array.from({ length: BATCH }, () => {
      // Lengths up to twice the line limit; some with newlines, so that several "lines" arrive.
      const bytes = randomBytes(randomInt(0, 2 * MAX_LINE_BYTES));
      if (randomInt(2) === 0) for (let k = 0; k < 4; k++) bytes[randomInt(bytes.length + 1)] = 0x0a;
      return exchange(h, bytes);
    });
    for (const { reply } of await Promise.all(batch)) if (reply) replies++;
    await responsive(h, 1);
  }
  t.diagnostic(`${CLIENTS} clients sent random bytes; ${replies} got a refusal, the others were cut off or had sent no line`);
  assert.equal((await get(port)).status, 200);
});

test('a client that connects and says nothing is let go after a few seconds, and holds nothing up meanwhile', async (t) => {
  const { app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const silent = Array.from({ length: 50 }, () => exchange(h, '', true));
  const halfLine = exchange(h, '{"cmd":"sta', true);
  await sleep(200);
  await responsive(h, 1);
  const r = await h.cli('reload');
  assert.equal(r.code, 0, `a reload with silent clients connected: ${r.stderr}`);
  const closed = await Promise.all([...silent, halfLine]);
  const slowest = Math.max(...closed.map((c) => c.closedAfterMs));
  t.diagnostic(`51 silent clients were let go after at most ${slowest} ms`);
  assert.ok(slowest < 15_000, `a silent client was held ${slowest} ms`);
  for (const c of closed) assert.equal(c.reply, '');
  await responsive(h, 2);
});
