import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { freePort, startHypnode, tempDir } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #2, point 3: ready means every server the app opened listens; an app may hold
// readiness back itself, or signal it PM2-style.

const API = pathToFileURL(new URL('../src/index.js', import.meta.url).pathname).href;

test('a worker opening two servers is ready only when both listen, and holdReady() delays it', async (t) => {
  const dir = tempDir(t);
  const [a, b] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'app.mjs'),
    `import http from 'node:http';
import { holdReady, generation } from '${API}';
const release = holdReady();
http.createServer((q, s) => s.end('api')).listen(${a}, () => {
  http.createServer((q, s) => s.end('metrics')).listen(${b});
});
setTimeout(() => { console.log('warm, generation', generation()); release(); }, 600);
`,
  );
  const started = Date.now();
  const h = await startHypnode(t, join(dir, 'app.mjs'), ['--workers', '2']);
  assert.ok(Date.now() - started >= 600, 'not ready before holdReady() was released');
  assert.match(h.output, /warm, generation 1/);
  assert.equal((await get(a)).status, 200);
  assert.equal((await get(b)).status, 200);
});

test("--wait-ready waits for PM2's process.send('ready')", async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  writeFileSync(
    join(dir, 'app.cjs'),
    `require('node:http').createServer((q, s) => s.end('ok')).listen(${port});
setTimeout(() => process.send('ready'), 700);
`,
  );
  const started = Date.now();
  await startHypnode(t, join(dir, 'app.cjs'), ['--workers', '1', '--wait-ready']);
  assert.ok(Date.now() - started >= 700, 'ready only after the app said so');
  assert.equal((await get(port)).status, 200);
});
