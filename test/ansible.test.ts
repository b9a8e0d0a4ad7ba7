import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Status } from '../src/protocol/status.js';
import { ADMIN_PORT, APP_PORT, assertNoneFailed, fleetSkipReason, makeHosts, onHost, sh, startHaproxy, Teardown, underLoad, type Host } from './support/fleet.js';
import { CLI, EXAMPLES, waitFor } from './support/hypnode.js';

// Issue #29: examples/ansible's playbook and role, run for real by Debian's ansible over ssh.
// Three hosts, each a network namespace running its own sshd (key-only, keys made here) and a
// hypnode instance, behind a real HAProxy whose runtime API the role drains a host through. Under
// load through HAProxy: a rolling reload of all three, a release broken at start (the play stops
// at the first host with the release's own error, the others untouched), a rolling stop and start
// drained in HAProxy, each failing no request; then a run with nothing new changes nothing, and a
// run in check mode reports a new release's changes and makes none.

const SSHD = '/usr/sbin/sshd';
const PLAYBOOK = join(EXAMPLES, 'ansible', 'deploy.yml');

function skipReason(): string | false {
  if (spawnSync('ansible-playbook', ['--version']).status !== 0) return 'ansible-playbook is not installed (Debian: apt-get install ansible)';
  if (!existsSync(SSHD) || spawnSync('ssh-keygen', ['-?']).error) return 'sshd or ssh-keygen is not installed (Debian: apt-get install openssh-server)';
  return fleetSkipReason();
}
const skip = skipReason();

interface Play {
  code: number | null;
  output: string;
}

interface Fleet {
  work: string;
  hosts: Host[];
  haproxyPort: number;
  /** The release's tarball: examples/hello with version N, and an app that throws at start if asked. */
  release(n: number, opts?: { broken?: boolean }): string;
  play(extraVars: Record<string, string | boolean>, flags?: string[]): Promise<Play>;
  root(host: Host): string;
  status(host: Host): Status;
}

/** Waits until something accepts on the address (sshd listening), bounded. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

async function startFleet(t: TestContext): Promise<Fleet> {
  const teardown = new Teardown(t);
  const work = mkdtempSync(join(tmpdir(), 'hypnode-ansible-'));
  teardown.add(() => rmSync(work, { recursive: true, force: true }));
  const hosts = makeHosts(teardown, 3);

  // ssh: a client key and a host key made here; sshd in each namespace, on its address only.
  const ssh = join(work, 'ssh');
  mkdirSync(ssh, { mode: 0o700 });
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(ssh, 'id'), '-C', 'hypnode-test']);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(ssh, 'host_key'), '-C', 'hypnode-test-host']);
  cpSync(join(ssh, 'id.pub'), join(ssh, 'authorized_keys'));
  chmodSync(join(ssh, 'authorized_keys'), 0o600);
  const hostKey = readFileSync(join(ssh, 'host_key.pub'), 'utf8').split(' ').slice(0, 2).join(' ');
  writeFileSync(join(ssh, 'known_hosts'), hosts.map((h) => `${h.address} ${hostKey}\n`).join(''));
  // sshd's privilege separation directory, which the system's sshd service would have made.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  for (const host of hosts) {
    const config = join(ssh, `sshd_config-${host.name}`);
    writeFileSync(
      config,
      [
        `ListenAddress ${host.address}:22`,
        `HostKey ${join(ssh, 'host_key')}`,
        `AuthorizedKeysFile ${join(ssh, 'authorized_keys')}`,
        'AuthenticationMethods publickey',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PermitRootLogin prohibit-password',
        'UsePAM no',
        'Subsystem sftp /usr/lib/openssh/sftp-server',
        'PidFile none',
        // The keys are in a 0700 directory under /tmp, which StrictModes would refuse for its
        // sticky world-writable mode.
        'StrictModes no',
        'LogLevel ERROR',
        '',
      ].join('\n'),
    );
    const sshd = spawn('ip', ['netns', 'exec', host.ns, SSHD, '-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    sshd.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    teardown.add(async () => {
      sshd.kill('SIGTERM');
      if (sshd.exitCode === null && sshd.signalCode === null) await new Promise((r) => sshd.once('exit', r));
    });
    await waitFor(`sshd on ${host.address}`, async () => {
      if (sshd.exitCode !== null) throw new Error(`sshd on ${host.name} exited: ${stderr}`);
      return listening(host.address, 22);
    }, 15_000, 100);
  }
  // Ansible's ssh connections persist for the play: closed here, before their sshd goes.
  const controlPath = join(ssh, 'cm-%h');
  teardown.add(() => {
    for (const host of hosts) spawnSync('ssh', ['-o', `ControlPath=${controlPath}`, '-O', 'exit', host.address], { timeout: 10_000 });
  });

  // Each host: a deploy root of its own, hypnode as the role's hypnode_deploy_hypnode, and the
  // command that starts its instance (a daemon, as an init script would).
  writeFileSync(join(work, 'hypnode'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(work, 'hypnode'), 0o755);
  const root = (host: Host) => join(work, host.name);
  const startCommand = (host: Host) =>
    `${join(work, 'hypnode')} start ${join(root(host), 'current', 'app.js')} --workers 2 --env PORT=${APP_PORT} --admin 0.0.0.0:${ADMIN_PORT} --stop-delay 1 --daemon --log-file ${join(work, `log-${host.name}`)}`;
  const environment = (host: Host) => ({ HYPNODE_RUNTIME_DIR: join(work, `run-${host.name}`) });
  for (const host of hosts) {
    mkdirSync(join(root(host), 'releases'), { recursive: true });
    teardown.add(() => {
      const stop = onHost(host, join(work, 'hypnode'), ['stop', join(root(host), 'current', 'app.js'), '--fast'], environment(host));
      if (stop.status !== 0 && !/no hypnode instance is running/.test(stop.stderr)) throw new Error(`could not stop the instance on ${host.name}: ${stop.stderr}`);
    });
  }
  const inventory = {
    all: {
      children: {
        app: {
          hosts: Object.fromEntries(
            hosts.map((h) => [
              h.name,
              {
                ansible_host: h.address,
                hypnode_deploy_root: root(h),
                hypnode_deploy_environment: environment(h),
                hypnode_deploy_start_command: startCommand(h),
              },
            ]),
          ),
          vars: {
            ansible_user: 'root',
            ansible_ssh_private_key_file: join(ssh, 'id'),
            ansible_python_interpreter: '/usr/bin/python3',
            hypnode_deploy_hypnode: join(work, 'hypnode'),
            hypnode_deploy_haproxy_host: 'lb1',
            hypnode_deploy_haproxy_socket: join(work, 'haproxy.sock'),
            hypnode_deploy_haproxy_backend: 'app',
          },
        },
        lb: { hosts: { lb1: { ansible_connection: 'local', ansible_python_interpreter: '/usr/bin/python3' } } },
      },
    },
  };
  writeFileSync(join(work, 'inventory.json'), JSON.stringify(inventory, null, 2));
  mkdirSync(join(work, 'ansible-tmp'));

  const play = (extraVars: Record<string, string | boolean>, flags: string[] = []): Promise<Play> =>
    new Promise((resolve) => {
      const child = spawn('ansible-playbook', ['-i', join(work, 'inventory.json'), PLAYBOOK, '-e', JSON.stringify(extraVars), ...flags], {
        env: {
          ...process.env,
          ANSIBLE_CONFIG: join(EXAMPLES, 'ansible', 'ansible.cfg'),
          ANSIBLE_LOCAL_TEMP: join(work, 'ansible-tmp'),
          ANSIBLE_REMOTE_TEMP: join(work, 'ansible-tmp'),
          ANSIBLE_SSH_ARGS: `-o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=${join(ssh, 'known_hosts')} -o StrictHostKeyChecking=yes -o BatchMode=yes`,
          ANSIBLE_SSH_CONTROL_PATH: controlPath.replace('%h', '%%h'),
          ANSIBLE_NOCOLOR: '1',
          ANSIBLE_FORCE_COLOR: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      // Bounds the play, not the machine: every step of it is bounded well below.
      const timer = setTimeout(() => {
        output += `\n(the play ran for 600 s and was stopped; processes then:)\n${spawnSync('ps', ['-ef', '--forest'], { encoding: 'utf8' }).stdout}`;
        child.kill('SIGTERM');
      }, 600_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });

  const release = (n: number, opts: { broken?: boolean } = {}): string => {
    const dir = join(work, `build-${n}`);
    cpSync(join(EXAMPLES, 'hello'), dir, { recursive: true });
    writeFileSync(join(dir, 'version.txt'), `${n}\n`);
    if (opts.broken) writeFileSync(join(dir, 'app.js'), `throw new Error('release ${n} cannot connect to its database');\n${readFileSync(join(dir, 'app.js'), 'utf8')}`);
    const archive = join(work, `release-${n}.tar.gz`);
    sh('tar', ['-czf', archive, '-C', dir, '.']);
    return archive;
  };

  const status = (host: Host): Status => {
    const r = onHost(host, join(work, 'hypnode'), ['status', join(root(host), 'current', 'app.js'), '--json'], environment(host));
    if (r.status !== 0) throw new Error(`status on ${host.name}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Status;
  };

  // Release 1 as a deploy before this role would have left it, each instance started by its
  // start command (what its unit or init script runs); then HAProxy in front of them.
  const first = release(1);
  for (const host of hosts) {
    mkdirSync(join(root(host), 'releases', '1'));
    sh('tar', ['-xzf', first, '-C', join(root(host), 'releases', '1')]);
    symlinkSync('releases/1', join(root(host), 'current'));
    const [cmd, ...args] = startCommand(host).split(' ');
    const r = onHost(host, cmd!, args, environment(host));
    assert.equal(r.status, 0, `start on ${host.name}: ${r.stderr}`);
  }
  const haproxy = await startHaproxy(teardown, work, hosts);
  return { work, hosts, haproxyPort: haproxy.port, release, play, root, status };
}

/** The PLAY RECAP's `changed=N` of each host. */
function changed(play: Play): Record<string, number> {
  return Object.fromEntries([...play.output.matchAll(/^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)/gm)].map((m) => [m[1]!, Number(m[2])]));
}

test('ansible: a rolling reload, a release broken at start stopped at the first host, a rolling restart drained in HAProxy, under load with no failed request; a second run changes nothing, check mode changes nothing', { skip }, async (t) => {
  const fleet = await startFleet(t);
  const [app1, app2, app3] = fleet.hosts as [Host, Host, Host];
  const current = (h: Host) => readlinkSync(join(fleet.root(h), 'current'));

  const reload = await underLoad(fleet.haproxyPort, () => fleet.play({ release: '2', archive: fleet.release(2) }));
  assert.equal(reload.roll.code, 0, reload.roll.output);
  assertNoneFailed(reload.result, 'the rolling reload');
  assert.ok(reload.result.versions['2'], JSON.stringify(reload.result.versions));
  for (const h of fleet.hosts) {
    assert.equal(current(h), 'releases/2', h.name);
    const s = fleet.status(h);
    assert.equal(s.lastReload?.ok, true, `${h.name} reloaded`);
  }
  const before = new Map(fleet.hosts.map((h) => [h.name, fleet.status(h)]));

  const broken = await underLoad(fleet.haproxyPort, () => fleet.play({ release: '3', archive: fleet.release(3, { broken: true }) }));
  assert.notEqual(broken.roll.code, 0, broken.roll.output);
  assert.match(broken.roll.output, /fatal: \[app1\]: FAILED![\s\S]*release 3 cannot connect to its database/);
  assert.doesNotMatch(broken.roll.output, /\[app[23]\]/, 'the play reached no other host');
  assertNoneFailed(broken.result, 'the broken release');
  assert.deepEqual(Object.keys(broken.result.versions), ['2'], 'every host serves the old code');
  assert.equal(current(app1), 'releases/2', 'app1: current points back at the release that serves');
  assert.equal(fleet.status(app1).lastReload?.ok, false);
  for (const h of [app2, app3]) {
    assert.equal(existsSync(join(fleet.root(h), 'releases', '3')), false, `${h.name}: release 3 was not unpacked`);
    assert.equal(current(h), 'releases/2', h.name);
    assert.deepEqual(fleet.status(h).lastReload, before.get(h.name)!.lastReload, `${h.name}: no reload`);
  }

  const restart = await underLoad(fleet.haproxyPort, () => fleet.play({ release: '2', archive: fleet.release(2), restart: true }));
  assert.equal(restart.roll.code, 0, restart.roll.output);
  assertNoneFailed(restart.result, 'the rolling restart');
  assert.match(restart.roll.output, /TASK \[hypnode_deploy : Drain the host in HAProxy and take it out\]/);
  for (const h of fleet.hosts) assert.notEqual(fleet.status(h).pid, before.get(h.name)!.pid, `${h.name}: a new manager`);

  const again = await fleet.play({ release: '2', archive: fleet.release(2) });
  assert.equal(again.code, 0, again.output);
  assert.deepEqual(changed(again), { app1: 0, app2: 0, app3: 0 }, again.output);

  // Check mode says what a new release would change, and changes nothing.
  const served = new Map(fleet.hosts.map((h) => [h.name, fleet.status(h)]));
  const check = await fleet.play({ release: '4', archive: fleet.release(4) }, ['--check']);
  assert.equal(check.code, 0, check.output);
  for (const h of fleet.hosts) {
    assert.ok(changed(check)[h.name]! > 0, `${h.name}: check mode reports the change\n${check.output}`);
    assert.equal(existsSync(join(fleet.root(h), 'releases', '4')), false, `${h.name}: nothing unpacked`);
    assert.equal(current(h), 'releases/2', h.name);
    const s = fleet.status(h);
    assert.deepEqual([s.pid, s.generation], [served.get(h.name)!.pid, served.get(h.name)!.generation], `${h.name}: not reloaded`);
  }
});
