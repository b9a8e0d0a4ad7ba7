import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUserManager, systemdSkipReason, type SystemdSandbox } from '../test/support/systemd.js';
import { cachedNode } from '../tools/node-lines.js';
import { startLoad, type Sample } from '../tools/load.js';
import { freePort, waitForAnswer } from './http.js';
import type { Plan } from './options.js';
import { HYPNODE_CLI, ROOT } from './paths.js';
import { progress, sleep } from './progress.js';

// Replacing the manager itself (a new Node, a new hypnode) under systemd, the two ways there are:
// `hypnode upgrade` (the new manager takes the sockets over, then the old one drains) and
// `systemctl restart` with the listening socket in the fd store (nothing is refused, but every
// request waits in the kernel's queue while the old workers drain and the new ones boot). The
// app takes BOOT_MS to boot, as one that connects to a database does. Measured under a load of
// keep-alive and new-connection clients: failed requests, how long the command took, and the
// longest any request waited.

export type UpgradeMethod = 'hypnode upgrade' | 'systemctl restart';
const METHODS: readonly UpgradeMethod[] = ['hypnode upgrade', 'systemctl restart'];
const SERVICE = 'bench-upgrade.service';
const BOOT_MS = 500;
const WARM_MS = 1000;
const AFTER_MS = 1000;

export interface UpgradeRun {
  method: UpgradeMethod;
  round: number;
  /** The Node versions before and after. */
  from: string;
  to: string;
  requests: number;
  failed: number;
  failures: Record<string, number>;
  commandMs: number;
  /** The longest a request took from being sent to its answer, from the command on. */
  longestWaitMs: number;
  error: string | null;
}

export async function runUpgrade(plan: Plan): Promise<{ runs: UpgradeRun[]; skipped: string[] }> {
  const reason = systemdSkipReason();
  if (reason) return { runs: [], skipped: [`upgrade: ${reason}`] };
  const runs: UpgradeRun[] = [];
  const sb = await startUserManager();
  try {
    for (let round = 0; round < plan.repetitions; round++) {
      const order = round % 2 === 0 ? METHODS : [...METHODS].reverse();
      for (const method of order) {
        progress(`upgrade: ${method}, round ${round + 1}`);
        runs.push(await runOne(sb, method, round, await freePort()));
      }
    }
  } finally {
    await sb.stop();
  }
  return { runs, skipped: [] };
}

async function runOne(sb: SystemdSandbox, method: UpgradeMethod, round: number, port: number): Promise<UpgradeRun> {
  const dir = mkdtempSync(join(tmpdir(), 'hypnode-bench-upgrade-'));
  const other = (process.versions.node.startsWith('24.') ? cachedNode(22) : cachedNode(24)) ?? process.execPath;
  const node = join(dir, 'node');
  cpSync(other, node);
  cpSync(join(ROOT, 'examples', 'hello'), join(dir, 'app'), { recursive: true });
  const app = join(dir, 'app', 'app.js');
  const runtime = join(dir, 'run');
  mkdirSync(runtime);
  const base: UpgradeRun = { method, round, from: process.version, to: version(method === 'hypnode upgrade' ? node : process.execPath), requests: 0, failed: 0, failures: {}, commandMs: 0, longestWaitMs: 0, error: null };
  try {
    const unit = spawnSync(process.execPath, [HYPNODE_CLI, 'unit', app, '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--env', `BOOT_DELAY_MS=${BOOT_MS}`, '--probation', '1'], { encoding: 'utf8' });
    if (unit.status !== 0) throw new Error(`hypnode unit: ${unit.stderr}`);
    await sb.writeUnit(SERVICE, unit.stdout);
    const start = await sb.systemctl('start', SERVICE);
    if (start.code !== 0) throw new Error(`systemctl start: ${start.stderr}${sb.managerLog().split('\n').slice(-10).join('\n')}`);
    await waitForAnswer(port, 10_000);
    const load = startLoad({ port, durationMs: 60_000, maxRequests: 1_000_000, keepAliveClients: 4, newConnectionClients: 4, slowEvery: 0 });
    await sleep(WARM_MS);
    const from = Date.now();
    // Never a synchronous spawn here: the load's clients share this event loop.
    const command = method === 'hypnode upgrade' ? await run(process.execPath, [HYPNODE_CLI, 'upgrade', app, '--runtime-dir', runtime, '--node', node]) : await sb.systemctl('restart', SERVICE);
    const commandMs = Date.now() - from;
    await sleep(AFTER_MS);
    const result = await load.stop();
    if (command.code !== 0) throw new Error(`${method} exited with ${command.code}: ${command.stderr}`);
    const shown = await sb.show(SERVICE, ['NRestarts', 'ActiveState']);
    if (shown.ActiveState !== 'active' || shown.NRestarts !== '0') throw new Error(`unit ${shown.ActiveState}, NRestarts=${shown.NRestarts}`);
    return { ...base, requests: result.total, failed: result.failed, failures: result.failures, commandMs, longestWaitMs: longestWait(result.samples, from) };
  } catch (err) {
    return { ...base, error: (err as Error).message };
  } finally {
    await sb.systemctl('stop', SERVICE);
    rmSync(dir, { recursive: true, force: true });
  }
}

function longestWait(samples: readonly Sample[], from: number): number {
  let longest = 0;
  for (const s of samples) if (s.end >= from) longest = Math.max(longest, s.end - s.start);
  return longest;
}

function run(command: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => resolve({ code: null, stderr: err.message }));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

function version(node: string): string {
  return spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
}
