import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { sendCommand } from '../../src/control/client.js';
import type { FinalReply } from '../../src/protocol/control.js';
import { instancePaths } from '../../src/control/paths.js';
import type { InstancePaths } from '../../src/protocol/control.js';
import type { Command } from '../../src/protocol/control.js';
import type { Status } from '../../src/protocol/status.js';
import { tempDir, type CliResult, type Hypnode } from './hypnode.js';
import { runnableByOthers } from './readable.js';

export { get } from './http.js';

// What the fault tests share: an app that misbehaves on request, a control client that talks to
// the manager directly (polling through the CLI costs a node start per call, too slow to time a
// replacement), and what /proc says about a process.

const INDEX = new URL('../../src/index.js', import.meta.url).href;

/**
 * The app, with its faults switched on by files beside it (read at boot, so a reload picks them
 * up: `hang-at-boot`, `boot-delay` in ms, `boot-gate` to wait at boot until it is removed, `extra-port` to listen on a second port) and by its environment (IGNORE_SIGTERM, EXIT_ON_DRAIN
 * with an exit code, CLOSE_ON_DRAIN to close its server with http's close(), FORCE_KEEP_ALIVE, GROW_MB_PER_S); and by path: /hang loops forever, /never
 * is never answered, /sleep?ms=N answers after N ms, /slow after 300 ms.
 */
const FAULT_APP = `
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { onDrain } from '${INDEX}';

const here = (name) => new URL('./' + name, import.meta.url);
const env = process.env;
const version = readFileSync(here('version.txt'), 'utf8').trim();
if (existsSync(here('hang-at-boot'))) for (;;);
const bootDelay = existsSync(here('boot-delay')) ? Number(readFileSync(here('boot-delay'), 'utf8')) : 0;

if (env.IGNORE_SIGTERM) {
  process.removeAllListeners('SIGTERM');
  process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
}
if (env.CLOSE_ON_DRAIN) onDrain(() => server.close());
if (env.EXIT_ON_DRAIN) onDrain(() => setTimeout(() => process.exit(Number(env.EXIT_ON_DRAIN)), 100));
const hoard = [];
if (env.GROW_MB_PER_S) setInterval(() => hoard.push(Buffer.alloc(Number(env.GROW_MB_PER_S) * 104858, 1)), 100);

function handle(req, res) {
  res.setHeader('x-version', version);
  res.setHeader('x-pid', String(process.pid));
  if (env.FORCE_KEEP_ALIVE) res.setHeader('connection', 'keep-alive');
  const url = new URL(req.url, 'http://localhost');
  switch (url.pathname) {
    case '/hang': for (;;);
    case '/never': return;
    case '/sleep': return void setTimeout(() => res.end('slept\\n'), Number(url.searchParams.get('ms') ?? 300));
    case '/slow': return void setTimeout(() => res.end('slow\\n'), 300);
    default: res.end('version ' + version + '\\n');
  }
}
const server = http.createServer(handle);
if (env.FORCE_KEEP_ALIVE) server.keepAliveTimeout = 0;
const opened = () => existsSync(here('boot-gate')) ? setTimeout(opened, 20) : server.listen(Number(env.PORT), '127.0.0.1');
setTimeout(opened, bootDelay);
if (existsSync(here('extra-port'))) http.createServer(handle).listen(Number(readFileSync(here('extra-port'), 'utf8')), '127.0.0.1');
`;

export function faultApp(t: TestContext, version = '1'): { dir: string; app: string } {
  const dir = tempDir(t, 'hypnode-fault-');
  writeFileSync(join(dir, 'app.mjs'), FAULT_APP);
  writeFileSync(join(dir, 'version.txt'), `${version}\n`);
  return { dir, app: join(dir, 'app.mjs') };
}

export function controlPaths(h: Hypnode): InstancePaths {
  // Named, as HYPNODE_RUNTIME_DIR names it to the CLI: its owner may be the instance's user.
  return { ...instancePaths(h.app, null, h.env.HYPNODE_RUNTIME_DIR!), named: true };
}

/** One command over the control socket, as the CLI sends it. */
export function ask(h: Hypnode, cmd: Command): Promise<FinalReply> {
  return sendCommand(controlPaths(h), cmd);
}

/** The manager's status, straight from its socket; every worker seen is left for cleanup to end. */
export async function quickStatus(h: Hypnode): Promise<Status> {
  const reply = await ask(h, 'status');
  if (!reply.ok) throw new Error(`status failed: ${reply.error}`);
  const s = reply.result as Status;
  for (const w of s.workers) h.seenPids.add(w.pid);
  return s;
}

export interface Usage {
  rssKiB: number;
  fds: number;
}

/** Resident memory and open file descriptors of `pid`, from /proc. */
export function usage(pid: number): Usage {
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { rssKiB: Number(rss?.[1] ?? NaN), fds: readdirSync(`/proc/${pid}/fd`).length };
}



/** A request that never gets its answer (or only a reset): it just occupies a worker. */
export function hold(port: number, path: string): http.ClientRequest {
  const req = http.get({ host: '127.0.0.1', port, path, agent: false });
  req.on('error', () => {});
  return req;
}

/**
 * `hypnode ARGS` as another user (runuser: the test runs as root), as an administrator would try
 * it; from a copy that user can read when the checkout is out of their reach (support/readable.ts).
 */
export function runAs(user: string, args: string[], env: Record<string, string>): Promise<CliResult> {
  const { node, cli } = runnableByOthers(user);
  return new Promise((resolve) => {
    const child = spawn('runuser', ['-u', user, '--', node, cli, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const isRoot = process.getuid?.() === 0;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
