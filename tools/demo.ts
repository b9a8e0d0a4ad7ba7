// `npm run demo`: starts the example app under hypnode, reloads it several times while a mixed
// load runs (keep-alive and new connections, 5 % slow requests), and prints what the clients saw.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLoad } from './load.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const EXAMPLE = fileURLToPath(new URL('../../examples/hello', import.meta.url));
const RELOADS = 5;

const dir = mkdtempSync(join(tmpdir(), 'hypnode-demo-'));
cpSync(EXAMPLE, dir, { recursive: true });
const app = join(dir, 'app.js');
const port = await freePort();
const env = { ...process.env, PORT: String(port), HYPNODE_RUNTIME_DIR: dir };
// Asynchronous on purpose: the load runs in this process and must keep going during a reload.
const hypnode = (...args: string[]) =>
  promisify(execFile)(process.execPath, [CLI, ...args], { env, encoding: 'utf8' }).then(
    (r) => ({ status: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ status: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

console.log(`demo: hypnode start ${app} --workers 2   (port ${port})`);
const manager = spawn(process.execPath, [CLI, 'start', app, '--workers', '2'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
try {
  await waitServing();
  const load = startLoad({ port, durationMs: 60_000, maxRequests: 1_000_000, keepAliveClients: 8, newConnectionClients: 8, slowEvery: 20 });
  for (let v = 2; v <= RELOADS + 1; v++) {
    await sleep(1000);
    writeFileSync(join(dir, 'version.txt'), `${v}\n`);
    const started = Date.now();
    const r = await hypnode('reload', app);
    console.log(`demo: reload to version ${v}: exit ${r.status} after ${Date.now() - started} ms`);
    if (r.status !== 0) console.log(r.stderr);
  }
  await sleep(1000);
  const result = await load.stop();
  console.log(`\nrequests: ${result.total}   failed: ${result.failed}   ${result.failed ? JSON.stringify(result.failures) : ''}`);
  console.log(`answered by version: ${Object.entries(result.versions).map(([v, n]) => `v${v} ${n}`).join(', ')}`);
  console.log(`manager pid ${manager.pid} throughout; ${RELOADS} reloads, ${result.failed === 0 ? 'nothing dropped' : 'SOME REQUESTS FAILED'}`);
  process.exitCode = result.failed === 0 ? 0 : 1;
} finally {
  await hypnode('stop', app);
  if (manager.exitCode === null) manager.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

async function waitServing(): Promise<void> {
  for (let i = 0; i < 150; i++) {
    const r = await hypnode('status', app, '--json');
    if (r.status === 0 && JSON.parse(r.stdout).state === 'serving') return;
    await sleep(100);
  }
  throw new Error('hypnode did not start serving within 15 s');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
