import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { startLoad, type LoadResult } from '../../tools/load.js';
import { EXAMPLES, freePort, waitFor } from './hypnode.js';

// A fleet on this machine for the tests of examples/fleet and examples/ansible: "hosts" that are
// network namespaces of their own, each reached over a veth pair from a private 10.231.x.0/24
// that never leaves the machine, behind a real HAProxy (on 127.0.0.1) with the example's config.

export const APP_PORT = 8080;
export const ADMIN_PORT = 9100;

/** Why a fleet cannot be made here (not root, no haproxy, no namespaces), or false. */
export function fleetSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'not root (network namespaces)';
  if (spawnSync('haproxy', ['-v']).status !== 0) return 'haproxy is not installed (Debian: apt-get install haproxy)';
  const probe = `hn-probe-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return 'ip netns add is not permitted here';
  spawnSync('ip', ['netns', 'del', probe]);
  return false;
}

export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Steps to undo, run last-in first-out once the test ends (an instance stops before the
 * namespace it runs in goes, a namespace before the directory its files are in); each step runs
 * even when one before it threw, and the first error is rethrown.
 */
export class Teardown {
  private readonly steps: (() => unknown)[] = [];

  constructor(t: TestContext) {
    t.after(async () => {
      let first: unknown = null;
      for (const step of this.steps.reverse()) {
        try {
          await step();
        } catch (err) {
          first ??= err;
        }
      }
      if (first) throw first;
    });
  }

  add(step: () => unknown): void {
    this.steps.push(step);
  }
}

export interface Host {
  /** The name HAProxy knows it by: app1, app2... */
  name: string;
  ns: string;
  address: string;
}

/** Makes `count` hosts, each a namespace with its address on a veth pair, removed at teardown. */
export function makeHosts(teardown: Teardown, count: number): Host[] {
  const tag = `${process.pid % 10000}`;
  return Array.from({ length: count }, (_, i) => {
    const name = `app${i + 1}`;
    const ns = `hnf${tag}-${name}`;
    const link = `hnf${tag}h${i + 1}`;
    const net = `10.231.${(process.pid % 200) + i}`;
    sh('ip', ['netns', 'add', ns]);
    teardown.add(() => {
      spawnSync('ip', ['netns', 'del', ns]);
      spawnSync('ip', ['link', 'del', link]);
    });
    sh('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}n`]);
    sh('ip', ['link', 'set', `${link}n`, 'netns', ns]);
    sh('ip', ['addr', 'add', `${net}.1/24`, 'dev', link]);
    sh('ip', ['link', 'set', link, 'up']);
    sh('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${net}.2/24`, 'dev', `${link}n`]);
    sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', `${link}n`, 'up']);
    sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    return { name, ns, address: `${net}.2` };
  });
}

/** Runs a command in the host's namespace. */
export function onHost(host: Host, cmd: string, args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync('ip', ['netns', 'exec', host.ns, 'env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), cmd, ...args], { encoding: 'utf8', timeout: 60_000 });
}

export interface Haproxy {
  port: number;
  /** Its runtime API (the stats socket at level admin). */
  socket: string;
}

/**
 * HAProxy with examples/fleet/haproxy.cfg, its addresses, ports and stats socket replaced by this
 * fleet's; resolves once it sends to every host (each answers with its own pid).
 */
export async function startHaproxy(teardown: Teardown, work: string, hosts: Host[]): Promise<Haproxy> {
  const port = await freePort();
  const socket = join(work, 'haproxy.sock');
  let cfg = readFileSync(join(EXAMPLES, 'fleet', 'haproxy.cfg'), 'utf8').replace(/bind 127\.0\.0\.1:\d+/, `bind 127.0.0.1:${port}`);
  cfg = cfg.replace(/^ {4}server .*\n/gm, '') + hosts.map((h) => `    server ${h.name} ${h.address}:${APP_PORT}\n`).join('');
  cfg = cfg.replace(/check port \d+/, `check port ${ADMIN_PORT}`).replace(/^ {4}log .*\n/m, '').replace(/stats socket \S+/, `stats socket ${socket}`);
  writeFileSync(join(work, 'haproxy.cfg'), cfg);
  const haproxy = spawn('haproxy', ['-db', '-f', join(work, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  haproxy.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  teardown.add(() => void haproxy.kill('SIGTERM'));
  await waitFor('HAProxy to see every host up', async () => {
    const pids = new Set<string>();
    for (let i = 0; i < hosts.length * 4; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => null);
      if (res?.ok) pids.add(res.headers.get('x-pid') ?? '');
    }
    return pids.size >= hosts.length ? true : null;
  }, 20_000, 200).catch((err: Error) => {
    throw new Error(`${err.message}\n${stderr}`);
  });
  return { port, socket };
}

/**
 * Runs `roll` under a bounded load through HAProxy that starts a moment before and ends a moment
 * after it; throws if the load ran out (its bounds) before the roll ended, which would leave the
 * end of the roll unwatched.
 */
export async function underLoad<T>(port: number, roll: () => Promise<T>): Promise<{ roll: T; result: LoadResult }> {
  const running = startLoad({ port, durationMs: 900_000, maxRequests: 2_000_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const rolled = await roll();
    const rolledAt = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    const result = await running.stop();
    assert.ok(result.samples.some((s) => s.start >= rolledAt), `the load ended before the roll did (${result.total} requests)`);
    return { roll: rolled, result };
  } finally {
    await running.stop();
  }
}

export function assertNoneFailed(result: LoadResult, what: string): void {
  assert.deepEqual(result.failures, {}, `${what}: ${result.failed} of ${result.total} requests failed`);
  assert.ok(result.total > 200, `${what}: the load ran (${result.total})`);
}
