import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ADMIN_PORT, APP_PORT, assertNoneFailed, fleetSkipReason, makeHosts, startHaproxy, Teardown, underLoad } from './support/fleet.js';
import { CLI, EXAMPLES, exampleApp } from './support/hypnode.js';

// Issue #17, point 3: a fleet on this machine. Three hypnode instances, each in a network
// namespace of its own, behind a real HAProxy that health-checks their /healthz, with the config
// and the rollout script users copy from examples/fleet/. Under load through HAProxy (on
// 127.0.0.1): a rolling reload fails no request; a rolling stop and start with --stop-delay fails
// no request; a broken release stops the roll at the first host, nothing failed, the others on
// the old code.

const HOSTS = 3;

function skipReason(): string | false {
  if (spawnSync('curl', ['--version']).status !== 0) return 'curl is not installed';
  return fleetSkipReason();
}
const skip = skipReason();

interface Fleet {
  dir: string;
  app: string;
  /** examples/fleet/rollout.sh with this fleet's way of reaching a host. */
  rollout(step: 'reload' | 'restart'): Promise<{ code: number | null; stderr: string }>;
  haproxyPort: number;
}

async function startFleet(t: TestContext): Promise<Fleet> {
  const { dir, app } = exampleApp(t, 'hello');
  const teardown = new Teardown(t);
  const work = mkdtempSync(join(tmpdir(), 'hypnode-fleet-'));
  teardown.add(() => rmSync(work, { recursive: true, force: true }));
  const hosts = makeHosts(teardown, HOSTS);
  // A `hypnode` on each host's PATH, and `on HOST CMD...` to run a command there (what ssh would be).
  writeFileSync(join(work, 'hypnode'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(work, 'hypnode'), 0o755);
  const cases = hosts.map((h) => `  ${h.name}) ns=${h.ns} ;;`).join('\n');
  writeFileSync(
    join(work, 'on'),
    `#!/bin/sh\nhost=$1; shift\ncase $host in\n${cases}\n  *) echo "no host $host" >&2; exit 2 ;;\nesac\nexec ip netns exec "$ns" env PATH='${work}':"$PATH" PORT=${APP_PORT} HYPNODE_RUNTIME_DIR='${work}'/run-$host "$@"\n`,
  );
  chmodSync(join(work, 'on'), 0o755);
  const startCommand = `hypnode start ${app} --workers 2 --admin 0.0.0.0:${ADMIN_PORT} --stop-delay 1.5 --daemon --log-file ${work}/log`;
  for (const host of hosts) {
    teardown.add(() => {
      const stop = spawnSync(join(work, 'on'), [host.name, 'hypnode', 'stop', app, '--fast'], { encoding: 'utf8', timeout: 30_000 });
      if (stop.status !== 0 && !/no hypnode instance is running/.test(stop.stderr)) throw new Error(`could not stop the instance on ${host.name}: ${stop.stderr}`);
    });
    const r = spawnSync('/bin/sh', ['-c', `'${join(work, 'on')}' ${host.name} ${startCommand}-${host.name}`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `start on ${host.name}: ${r.stderr}`);
  }
  const haproxy = await startHaproxy(teardown, work, hosts);

  return {
    dir,
    app,
    haproxyPort: haproxy.port,
    rollout: (step) =>
      new Promise((resolve) => {
        const child = spawn(join(EXAMPLES, 'fleet', 'rollout.sh'), [step, ...hosts.map((h) => h.name)], {
          env: { ...process.env, HYPNODE_APP: app, HYPNODE_EXEC: join(work, 'on'), HYPNODE_START: startCommand, HYPNODE_HEALTH: `http://127.0.0.1:${ADMIN_PORT}/healthz` },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stderr }));
      }),
  };
}

test('behind HAProxy: a rolling reload, a rolling stop and start with --stop-delay, and a broken release stopped at the first host fail no request', { skip }, async (t) => {
  const fleet = await startFleet(t);
  const underLoadRoll = (step: 'reload' | 'restart') => underLoad(fleet.haproxyPort, () => fleet.rollout(step));

  writeFileSync(join(fleet.dir, 'version.txt'), '2\n');
  const reload = await underLoadRoll('reload');
  assert.equal(reload.roll.code, 0, reload.roll.stderr);
  assertNoneFailed(reload.result, 'the rolling reload');
  assert.ok(reload.result.versions['2'], JSON.stringify(reload.result.versions));

  const restart = await underLoadRoll('restart');
  assert.equal(restart.roll.code, 0, restart.roll.stderr);
  assertNoneFailed(restart.result, 'the rolling stop and start');

  const good = readFileSync(fleet.app, 'utf8');
  writeFileSync(fleet.app, `throw new Error('broken release');\n${good}`);
  writeFileSync(join(fleet.dir, 'version.txt'), '3\n');
  const { roll: broken, result } = await underLoadRoll('reload');
  writeFileSync(fleet.app, good);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /reload failed on app1; stopped here/);
  assert.doesNotMatch(broken.stderr, /reload on app2/);
  assertNoneFailed(result, 'the broken rollout');
  assert.deepEqual(Object.keys(result.versions), ['2'], 'every host serves the old code');
});
