import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startLoad, type LoadResult } from '../tools/load.js';
import { CLI, EXAMPLES, exampleApp, freePort, waitFor } from './support/hypnode.js';

// Issue #17, point 3: a fleet on this machine. Three hypnode instances, each in a network
// namespace of its own (a "host", reached over a veth pair from a private 10.231.x.0/24 that
// never leaves the machine), behind a real HAProxy that health-checks their /healthz, with the
// config and the rollout script users copy from examples/fleet/. Under load through HAProxy (on
// 127.0.0.1): a rolling reload fails no request; a rolling stop and start with --stop-delay fails
// no request; a broken release stops the roll at the first host, nothing failed, the others on
// the old code.

const HOSTS = 3;
const APP_PORT = 8080;
const ADMIN_PORT = 9100;

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'not root (network namespaces)';
  if (spawnSync('haproxy', ['-v']).status !== 0) return 'haproxy is not installed (Debian: apt-get install haproxy)';
  if (spawnSync('curl', ['--version']).status !== 0) return 'curl is not installed';
  const probe = `hn-probe-${process.pid}`;
  if (spawnSync('ip', ['netns', 'add', probe]).status !== 0) return 'ip netns add is not permitted here';
  spawnSync('ip', ['netns', 'del', probe]);
  return false;
}
const skip = skipReason();

interface Fleet {
  dir: string;
  app: string;
  hosts: string[];
  /** examples/fleet/rollout.sh with this fleet's way of reaching a host. */
  rollout(step: 'reload' | 'restart'): Promise<{ code: number | null; stderr: string }>;
  haproxyPort: number;
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

async function startFleet(t: TestContext): Promise<Fleet> {
  const { dir, app } = exampleApp(t, 'hello');
  // Removed by the hook below, after the instances are stopped (they run from it).
  const work = mkdtempSync(join(tmpdir(), 'hypnode-fleet-'));
  const tag = `${process.pid % 10000}`;
  const hosts = Array.from({ length: HOSTS }, (_, i) => `h${i + 1}`);
  const ns = (host: string) => `hnf${tag}-${host}`;
  const net = (i: number) => `10.231.${(process.pid % 200) + i}`;
  t.after(() => {
    for (const [i, host] of hosts.entries()) {
      const stop = spawnSync(join(work, 'on'), [host, 'hypnode', 'stop', app, '--fast'], { encoding: 'utf8', timeout: 30_000 });
      if (stop.status !== 0 && !/no hypnode instance is running/.test(stop.stderr)) throw new Error(`could not stop the instance on ${host}: ${stop.stderr}`);
      spawnSync('ip', ['netns', 'del', ns(host)]);
      spawnSync('ip', ['link', 'del', `hnf${tag}h${i + 1}`]);
    }
    rmSync(work, { recursive: true, force: true });
  });
  // A `hypnode` on each host's PATH, and `on HOST CMD...` to run a command there (what ssh would be).
  writeFileSync(join(work, 'hypnode'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(work, 'hypnode'), 0o755);
  const cases = hosts.map((h) => `  ${h}) ns=${ns(h)} ;;`).join('\n');
  writeFileSync(
    join(work, 'on'),
    `#!/bin/sh\nhost=$1; shift\ncase $host in\n${cases}\n  *) echo "no host $host" >&2; exit 2 ;;\nesac\nexec ip netns exec "$ns" env PATH='${work}':"$PATH" PORT=${APP_PORT} HYPNODE_RUNTIME_DIR='${work}'/run-$host "$@"\n`,
  );
  chmodSync(join(work, 'on'), 0o755);
  for (const [i, host] of hosts.entries()) {
    const link = `hnf${tag}h${i + 1}`;
    sh('ip', ['netns', 'add', ns(host)]);
    sh('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${link}n`]);
    sh('ip', ['link', 'set', `${link}n`, 'netns', ns(host)]);
    sh('ip', ['addr', 'add', `${net(i)}.1/24`, 'dev', link]);
    sh('ip', ['link', 'set', link, 'up']);
    sh('ip', ['netns', 'exec', ns(host), 'ip', 'addr', 'add', `${net(i)}.2/24`, 'dev', `${link}n`]);
    sh('ip', ['netns', 'exec', ns(host), 'ip', 'link', 'set', `${link}n`, 'up']);
    sh('ip', ['netns', 'exec', ns(host), 'ip', 'link', 'set', 'lo', 'up']);
  }
  const startCommand = `hypnode start ${app} --workers 2 --admin 0.0.0.0:${ADMIN_PORT} --stop-delay 1.5 --daemon --log-file ${work}/log`;
  for (const host of hosts) {
    const r = spawnSync('/bin/sh', ['-c', `'${join(work, 'on')}' ${host} ${startCommand}-${host}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `start on ${host}: ${r.stderr}`);
  }

  // HAProxy with the example's own config, its addresses replaced by this fleet's.
  const haproxyPort = await freePort();
  let cfg = readFileSync(join(EXAMPLES, 'fleet', 'haproxy.cfg'), 'utf8').replace(/bind 127\.0\.0\.1:\d+/, `bind 127.0.0.1:${haproxyPort}`);
  cfg = cfg.replace(/^ {4}server .*\n/gm, '') + hosts.map((_, i) => `    server app${i + 1} ${net(i)}.2:${APP_PORT}\n`).join('');
  cfg = cfg.replace(/check port \d+/, `check port ${ADMIN_PORT}`).replace(/^ {4}log .*\n/m, '');
  writeFileSync(join(work, 'haproxy.cfg'), cfg);
  const haproxy = spawn('haproxy', ['-db', '-f', join(work, 'haproxy.cfg')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let haproxyErr = '';
  haproxy.stderr.on('data', (d: Buffer) => (haproxyErr += d.toString()));
  t.after(() => void haproxy.kill('SIGTERM'));
  await waitFor('HAProxy to see every host up', async () => {
    const pids = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`http://127.0.0.1:${haproxyPort}/`).catch(() => null);
      if (res?.ok) pids.add(res.headers.get('x-pid') ?? '');
    }
    return pids.size >= HOSTS * 1 ? true : null;
  }, 20_000, 200).catch((err: Error) => {
    throw new Error(`${err.message}\n${haproxyErr}`);
  });

  return {
    dir,
    app,
    hosts,
    haproxyPort,
    rollout: (step) =>
      new Promise((resolve) => {
        const child = spawn(join(EXAMPLES, 'fleet', 'rollout.sh'), [step, ...hosts], {
          env: { ...process.env, HYPNODE_APP: app, HYPNODE_EXEC: join(work, 'on'), HYPNODE_START: startCommand, HYPNODE_HEALTH: `http://127.0.0.1:${ADMIN_PORT}/healthz` },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      }),
  };
}

function assertNoneFailed(result: LoadResult, what: string): void {
  assert.deepEqual(result.failures, {}, `${what}: ${result.failed} of ${result.total} requests failed`);
  assert.ok(result.total > 200, `${what}: the load ran (${result.total})`);
}

test('behind HAProxy: a rolling reload, a rolling stop and start with --stop-delay, and a broken release stopped at the first host fail no request', { skip }, async (t) => {
  const fleet = await startFleet(t);
  // The load runs a moment before and after each roll.
  const underLoad = async (step: 'reload' | 'restart') => {
    const running = startLoad({ port: fleet.haproxyPort, durationMs: 120_000, maxRequests: 500_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 });
    await new Promise((r) => setTimeout(r, 500));
    const roll = await fleet.rollout(step);
    await new Promise((r) => setTimeout(r, 500));
    return { roll, result: await running.stop() };
  };

  writeFileSync(join(fleet.dir, 'version.txt'), '2\n');
  const reload = await underLoad('reload');
  assert.equal(reload.roll.code, 0, reload.roll.stderr);
  assertNoneFailed(reload.result, 'the rolling reload');
  assert.ok(reload.result.versions['2'], JSON.stringify(reload.result.versions));

  const restart = await underLoad('restart');
  assert.equal(restart.roll.code, 0, restart.roll.stderr);
  assertNoneFailed(restart.result, 'the rolling stop and start');

  const good = readFileSync(fleet.app, 'utf8');
  writeFileSync(fleet.app, `throw new Error('broken release');\n${good}`);
  writeFileSync(join(fleet.dir, 'version.txt'), '3\n');
  const { roll: broken, result } = await underLoad('reload');
  writeFileSync(fleet.app, good);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /reload failed on h1; stopped here/);
  assert.doesNotMatch(broken.stderr, /reload on h2/);
  assertNoneFailed(result, 'the broken rollout');
  assert.deepEqual(Object.keys(result.versions), ['2'], 'every host serves the old code');
});
