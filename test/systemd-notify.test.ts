import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { listenFds } from '../src/systemd/listen-fds.js';
import { peerCredentials, socketInfo, unixSocketPath } from '../src/native.js';
import { isValidFdName, SystemdNotifier } from '../src/systemd/notify.js';
import { eventually, startUserManager, systemdSkipReason, type SystemdSandbox } from './support/systemd.js';

// SystemdNotifier and listenFds against the distro's real systemd (252 on Debian 12): each unit's
// main process is a small node script using the built modules, as hypnode's manager will. Further
// down, the same modules and the addon without systemd, which needs no root.

const skip = systemdSkipReason() ?? false;
const NOTIFY = new URL('../src/systemd/notify.js', import.meta.url).href;
const LISTEN_FDS = new URL('../src/systemd/listen-fds.js', import.meta.url).href;

/** Writes a node ES module into the sandbox; returns the command line for ExecStart=. */
function script(sb: SystemdSandbox, name: string, body: string): string {
  const path = join(sb.dir, name);
  writeFileSync(
    path,
    `import { SystemdNotifier } from '${NOTIFY}';
import { listenFds } from '${LISTEN_FDS}';
import { writeFileSync } from 'node:fs';
const state = (data) => writeFileSync(${JSON.stringify(join(sb.dir, `${name}.json`))}, JSON.stringify({ pid: process.pid, ...data }));
process.on('SIGTERM', () => process.exit(0));
${body}
`,
  );
  return `${process.execPath} ${path}`;
}

/** The JSON the script last wrote with state(), once its pid differs from `notPid`. */
async function stateOf<T>(sb: SystemdSandbox, name: string, notPid = 0): Promise<T & { pid: number }> {
  const file = join(sb.dir, `${name}.json`);
  let data: (T & { pid: number }) | null = null;
  const fresh = () => {
    try {
      data = JSON.parse(readFileSync(file, 'utf8')) as T & { pid: number };
    } catch {
      return false; // not written yet, or half written
    }
    return data.pid !== notPid;
  };
  await eventually(`new state from ${name}`, fresh);
  return data!;
}

/** A test with a sandboxed user manager of its own, whose log is printed when the test fails. */
function sdTest(name: string, body: (sb: SystemdSandbox) => Promise<void>): void {
  test(name, { skip }, async (t) => {
    const sb = await startUserManager(t);
    try {
      await body(sb);
    } catch (err) {
      t.diagnostic(`manager log:\n${sb.managerLog()}`);
      throw err;
    }
  });
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (s: string) => (body += s));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

sdTest('Type=notify: systemctl start returns only after READY=1; STATUS= shows; children get no NOTIFY_SOCKET', async (sb) => {
  const exec = script(
    sb,
    'ready.mjs',
    `import { execFileSync } from 'node:child_process';
const notifier = new SystemdNotifier();
const child = execFileSync(process.execPath, ['-p', 'JSON.stringify([process.env.NOTIFY_SOCKET, process.env.WATCHDOG_USEC])'], { encoding: 'utf8' });
notifier.status('booting');
await new Promise((resolve) => setTimeout(resolve, 1500));
state({ enabled: notifier.enabled, child: JSON.parse(child) });
notifier.ready('serving');
setInterval(() => {}, 1 << 30);`,
  );
  await sb.writeUnit('ready.service', `[Service]\nType=notify\nWatchdogSec=30\nExecStart=${exec}\n`);

  const started = Date.now();
  let returned = false;
  const start = sb.systemctl('start', 'ready.service').finally(() => (returned = true));
  const booting = await sb.waitFor('ready.service', ['ActiveState', 'StatusText'], (p) => p.StatusText === 'booting');
  assert.equal(booting.ActiveState, 'activating');
  assert.equal(returned, false, 'systemctl start returned before READY=1');
  assert.equal((await start).code, 0);
  assert.ok(Date.now() - started >= 1400, `start returned after ${Date.now() - started} ms`);

  const p = await sb.show('ready.service', ['ActiveState', 'SubState', 'StatusText', 'MainPID']);
  const s = await stateOf<{ enabled: boolean; child: (string | null)[] }>(sb, 'ready.mjs');
  assert.deepEqual(p, { ActiveState: 'active', SubState: 'running', StatusText: 'serving', MainPID: String(s.pid) });
  assert.equal(s.enabled, true);
  assert.deepEqual(s.child, [null, null], 'NOTIFY_SOCKET/WATCHDOG_USEC leaked into a child');
});

sdTest('EXTEND_TIMEOUT_USEC lets a slow start outlast TimeoutStartSec=', async (sb) => {
  const exec = script(
    sb,
    'slow.mjs',
    `const notifier = new SystemdNotifier();
for (let i = 0; i < 8; i++) {
  notifier.extendTimeout(1_500_000);
  await new Promise((resolve) => setTimeout(resolve, 500));
}
notifier.ready();
setInterval(() => {}, 1 << 30);`,
  );
  await sb.writeUnit('slow.service', `[Service]\nType=notify\nTimeoutStartSec=2s\nExecStart=${exec}\n`);
  const started = Date.now();
  const r = await sb.systemctl('start', 'slow.service');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Date.now() - started >= 3900);
  assert.equal((await sb.show('slow.service', ['ActiveState'])).ActiveState, 'active');
});

sdTest('reload on 252 (no Type=notify-reload): ExecReload= waits for the reload; RELOADING=1 holds the unit until READY=1', async (sb) => {
  const control = join(sb.dir, 'control.sock');
  const exec = script(
    sb,
    'reload.mjs',
    `import net from 'node:net';
const notifier = new SystemdNotifier();
let generation = 1;
// As hypnode's manager: a reload request on the control socket is answered once the new code serves.
net.createServer((c) => {
  notifier.reloading();
  setTimeout(() => {
    generation++;
    notifier.ready('generation ' + generation);
    c.end('ok');
  }, 1000);
}).listen(${JSON.stringify(control)}, () => notifier.ready('generation 1'));
// A reload nobody asked systemd for: RELOADING=1 now, READY=1 only on SIGUSR1.
process.on('SIGUSR2', () => notifier.reloading('reloading by itself'));
process.on('SIGUSR1', () => notifier.ready('done by itself'));`,
  );
  const client = join(sb.dir, 'reload-client.mjs');
  writeFileSync(
    client,
    `import net from 'node:net';
let answer = '';
net.connect(${JSON.stringify(control)}).setEncoding('utf8').on('data', (s) => (answer += s)).on('close', () => process.exit(answer === 'ok' ? 0 : 1));`,
  );
  await sb.writeUnit('reload.service', `[Service]\nType=notify\nExecStart=${exec}\nExecReload=${process.execPath} ${client}\n`);
  assert.equal((await sb.systemctl('start', 'reload.service')).code, 0);
  const before = await sb.show('reload.service', ['MainPID', 'StatusText']);
  assert.equal(before.StatusText, 'generation 1');

  const started = Date.now();
  let returned = false;
  const reload = sb.systemctl('reload', 'reload.service').finally(() => (returned = true));
  await sb.waitFor('reload.service', ['ActiveState'], (p) => p.ActiveState === 'reloading');
  assert.equal(returned, false);
  assert.equal((await reload).code, 0);
  assert.ok(Date.now() - started >= 900, `reload returned after ${Date.now() - started} ms`);
  const after = await sb.show('reload.service', ['MainPID', 'StatusText', 'ActiveState', 'SubState']);
  assert.deepEqual(after, { MainPID: before.MainPID, StatusText: 'generation 2', ActiveState: 'active', SubState: 'running' });

  assert.equal((await sb.systemctl('kill', '--kill-who=main', '--signal=SIGUSR2', 'reload.service')).code, 0);
  const held = await sb.waitFor('reload.service', ['ActiveState', 'SubState', 'StatusText'], (p) => p.StatusText === 'reloading by itself');
  assert.deepEqual([held.ActiveState, held.SubState], ['reloading', 'reload']);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal((await sb.show('reload.service', ['ActiveState'])).ActiveState, 'reloading', 'the unit left "reloading" without READY=1');
  assert.equal((await sb.systemctl('kill', '--kill-who=main', '--signal=SIGUSR1', 'reload.service')).code, 0);
  await sb.waitFor('reload.service', ['ActiveState', 'SubState'], (p) => p.ActiveState === 'active' && p.SubState === 'running');
});

interface FdState {
  port: number;
  fds: { fd: number; name: string; info: unknown; cloexec: boolean }[];
  listenFdsLeft: string | null;
}

sdTest('fd store: a stored listening socket comes back through LISTEN_FDS/LISTEN_FDNAMES after restart and crash', async (sb) => {
  const removed = join(sb.dir, 'removed');
  const exec = script(
    sb,
    'store.mjs',
    `import http from 'node:http';
import { readFileSync } from 'node:fs';
const notifier = new SystemdNotifier();
const fds = listenFds();
const stored = fds.find((f) => f.name === 'web');
const server = http.createServer((req, res) => res.end(String(process.pid)));
await new Promise((resolve) => (stored ? server.listen({ fd: stored.fd }, resolve) : server.listen(0, '127.0.0.1', resolve)));
// Stored on every start, as a manager would: systemd keeps one copy of the same socket.
notifier.fdStore('web', [server._handle.fd]);
const cloexec = (fd) => (parseInt(/flags:\\s+(\\d+)/.exec(readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8) & 0o2000000) !== 0;
state({ port: server.address().port, fds: fds.map((f) => ({ ...f, cloexec: cloexec(f.fd) })), listenFdsLeft: process.env.LISTEN_FDS ?? null });
notifier.ready();
process.on('SIGUSR1', () => {
  notifier.fdStoreRemove('web');
  writeFileSync(${JSON.stringify(removed)}, '');
});`,
  );
  await sb.writeUnit('store.service', `[Service]\nType=notify\nFileDescriptorStoreMax=4\nRestart=always\nRestartSec=1\nExecStart=${exec}\n`);

  assert.equal((await sb.systemctl('start', 'store.service')).code, 0);
  const first = await stateOf<FdState>(sb, 'store.mjs');
  assert.deepEqual(first.fds, []);
  assert.equal(await get(first.port), String(first.pid));

  // systemctl restart: the store survives the stop half of a restart job.
  assert.equal((await sb.systemctl('restart', 'store.service')).code, 0);
  const second = await stateOf<FdState>(sb, 'store.mjs', first.pid);
  assert.deepEqual(second.fds, [
    { fd: 3, name: 'web', info: { type: 'stream', listening: true, family: 'ipv4', address: '127.0.0.1', port: first.port }, cloexec: true },
  ]);
  assert.equal(second.listenFdsLeft, null);
  assert.equal(await get(first.port), String(second.pid));

  // A crash: while systemd waits RestartSec= to start it again, the socket still listens, so a
  // client queues in its backlog and is answered by the next process instead of being refused.
  assert.equal((await sb.systemctl('kill', '--signal=SIGKILL', 'store.service')).code, 0);
  await sb.waitFor('store.service', ['ActiveState'], (p) => p.ActiveState !== 'active');
  const queued = get(first.port);
  const third = await stateOf<FdState>(sb, 'store.mjs', second.pid);
  assert.equal(await queued, String(third.pid));
  assert.equal(third.fds.length, 1, 'storing the same socket again made a second copy');
  assert.equal((await sb.show('store.service', ['NRestarts'])).NRestarts, '1');

  // FDSTOREREMOVE=1 drops it: the next start gets nothing and binds anew.
  assert.equal((await sb.systemctl('kill', '--kill-who=main', '--signal=SIGUSR1', 'store.service')).code, 0);
  await eventually('FDSTOREREMOVE=1', () => existsSync(removed));
  assert.equal((await sb.systemctl('restart', 'store.service')).code, 0);
  const fourth = await stateOf<FdState>(sb, 'store.mjs', third.pid);
  assert.deepEqual(fourth.fds, []);

  // systemd 252 empties the store when the unit stops for good (no FileDescriptorStorePreserve=).
  assert.equal((await sb.systemctl('stop', 'store.service')).code, 0);
  assert.equal((await sb.systemctl('start', 'store.service')).code, 0);
  const fifth = await stateOf<FdState>(sb, 'store.mjs', fourth.pid);
  assert.deepEqual(fifth.fds, []);
});

sdTest('watchdog: WATCHDOG=1 from the event loop keeps a WatchdogSec= unit alive; a blocked loop gets it killed', async (sb) => {
  const exec = script(
    sb,
    'watchdog.mjs',
    `const notifier = new SystemdNotifier();
notifier.ready();
state({ running: notifier.startWatchdog(), usec: notifier.watchdogUsec });
setInterval(() => {}, 1 << 30);
process.on('SIGUSR1', () => {
  const until = Date.now() + 6000;
  while (Date.now() < until);
});`,
  );
  await sb.writeUnit('watchdog.service', `[Service]\nType=notify\nWatchdogSec=2s\nWatchdogSignal=SIGKILL\nExecStart=${exec}\n`);
  assert.equal((await sb.systemctl('start', 'watchdog.service')).code, 0);
  const s = await stateOf<{ running: boolean; usec: number }>(sb, 'watchdog.mjs');
  assert.deepEqual([s.running, s.usec], [true, 2_000_000]);

  await new Promise((resolve) => setTimeout(resolve, 4000));
  const alive = await sb.show('watchdog.service', ['ActiveState', 'MainPID', 'NRestarts']);
  assert.deepEqual(alive, { ActiveState: 'active', MainPID: String(s.pid), NRestarts: '0' });

  assert.equal((await sb.systemctl('kill', '--kill-who=main', '--signal=SIGUSR1', 'watchdog.service')).code, 0);
  const killed = await sb.waitFor('watchdog.service', ['ActiveState', 'Result'], (p) => p.ActiveState === 'failed', 5000);
  assert.equal(killed.Result, 'watchdog');
});

// Without systemd (no root needed): the datagrams themselves, caught by a python3 receiver that
// reads them as systemd does (recvmsg with SCM_RIGHTS) and stamps them with its CLOCK_MONOTONIC.

const RECEIVER = `
import json, socket, sys, time
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + address[1:] if address.startswith('@') else address)
print('ready', flush=True)
while True:
    text, fds, _, _ = socket.recv_fds(s, 4096, 16)
    now = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    names = [list(socket.socket(fileno=fd).getsockname()) for fd in fds]
    print(json.dumps({'text': text.decode(), 'fds': names, 'monotonic': now}), flush=True)
`;
const noPython = spawnSync('python3', ['--version']).status === 0 ? false : 'python3 not available';

interface Datagram {
  text: string;
  fds: [string, number][];
  monotonic: number;
}

/** A notify socket at `address` (a path or '@name'); next() resolves with each datagram in turn. */
async function receiver(t: TestContext, address: string): Promise<{ next(): Promise<Datagram> }> {
  const child = spawn('python3', ['-c', RECEIVER, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const line = async () => {
    const { value, done } = await lines.next();
    if (done) throw new Error('the receiver exited');
    return value as string;
  };
  assert.equal(await line(), 'ready');
  return { next: async () => JSON.parse(await line()) as Datagram };
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'hypnode-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('SystemdNotifier without NOTIFY_SOCKET: disabled, and every method does nothing', () => {
  const n = new SystemdNotifier({ WATCHDOG_USEC: '1000000' });
  assert.equal(n.enabled, false);
  assert.equal(n.watchdogUsec, null);
  n.ready('x');
  n.reloading();
  n.status('x');
  n.fdStore('web', [0]);
  assert.equal(n.startWatchdog(), false);
});

test('SystemdNotifier takes its variables out of the environment; a watchdog for another PID is not ours', () => {
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '2000000', WATCHDOG_PID: String(process.pid), KEEP: '1' };
  assert.equal(new SystemdNotifier(env).watchdogUsec, 2_000_000);
  assert.deepEqual(env, { KEEP: '1' });
  assert.equal(new SystemdNotifier({ NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '1' }).watchdogUsec, null);
  assert.equal(new SystemdNotifier({ NOTIFY_SOCKET: '/nonexistent', WATCHDOG_USEC: 'soon' }).watchdogUsec, null);
});

test('the datagrams: fields, STATUS= on one line, MONOTONIC_USEC= from CLOCK_MONOTONIC, fds as SCM_RIGHTS', { skip: noPython }, async (t) => {
  const address = join(tempDir(t), 'notify');
  const r = await receiver(t, address);
  const n = new SystemdNotifier({ NOTIFY_SOCKET: address });
  assert.equal(n.enabled, true);

  n.ready('line one\nline two');
  assert.equal((await r.next()).text, 'READY=1\nSTATUS=line one line two');
  n.reloading();
  const reloading = await r.next();
  const [, usec] = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(reloading.text) ?? [];
  const lag = reloading.monotonic - Number(usec);
  assert.ok(lag >= 0 && lag < 1_000_000, `MONOTONIC_USEC is ${lag} µs off the receiver's CLOCK_MONOTONIC`);
  n.stopping();
  assert.equal((await r.next()).text, 'STOPPING=1');
  n.extendTimeout(5_000_000);
  assert.equal((await r.next()).text, 'EXTEND_TIMEOUT_USEC=5000000');
  n.mainPid(4242);
  assert.equal((await r.next()).text, 'MAINPID=4242');
  n.status('é'.repeat(2000));
  const long = (await r.next()).text;
  assert.ok(long.startsWith('STATUS=éé') && long.endsWith('…') && Buffer.byteLength(long) <= 1024 + 'STATUS='.length);

  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  n.fdStore('web', [(server as unknown as { _handle: { fd: number } })._handle.fd], { poll: false });
  const stored = await r.next();
  assert.deepEqual([stored.text, stored.fds], ['FDSTORE=1\nFDNAME=web\nFDPOLL=0', [['127.0.0.1', port]]]);
  n.fdStoreRemove('web');
  assert.equal((await r.next()).text, 'FDSTOREREMOVE=1\nFDNAME=web');
  for (const bad of ['', 'tcp:8080', 'tab\there', 'x'.repeat(256), 'ü']) {
    assert.equal(isValidFdName(bad), false, bad);
    assert.throws(() => n.fdStore(bad, [0]), RangeError);
  }
});

test('an abstract NOTIFY_SOCKET (@name); the watchdog pings every half period from an unref\'d timer', { skip: noPython }, async (t) => {
  const address = `@hypnode-test-${process.pid}`;
  const r = await receiver(t, address);
  const n = new SystemdNotifier({ NOTIFY_SOCKET: address, WATCHDOG_USEC: '100000' });
  t.after(() => n.stopWatchdog());
  const started = Date.now();
  assert.equal(n.startWatchdog(), true);
  for (let i = 0; i < 4; i++) assert.equal((await r.next()).text, 'WATCHDOG=1');
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 140 && elapsed < 1000, `4 pings took ${elapsed} ms`);
});

test('a failed send throws a system error with code and errno; a failed watchdog ping does not', () => {
  const n = new SystemdNotifier({ NOTIFY_SOCKET: '/nonexistent/notify', WATCHDOG_USEC: '1000000' });
  assert.throws(() => n.ready(), { code: 'ENOENT', errno: -2, syscall: 'sendmsg' });
  assert.throws(() => new SystemdNotifier({ NOTIFY_SOCKET: 'relative' }).ready(), { code: 'EINVAL' });
  assert.equal(n.startWatchdog(), true);
  n.stopWatchdog();
});

test('listenFds: only for this PID; names default to "unknown"; socket info; fds become close-on-exec', { skip: noPython }, async (t) => {
  const env: NodeJS.ProcessEnv = { LISTEN_PID: '1', LISTEN_FDS: '2', LISTEN_FDNAMES: 'a:b' };
  assert.deepEqual(listenFds(env), []);
  assert.deepEqual(env, {});

  // A child that gets, as systemd would pass them, a TCP socket as fd 3, a file as fd 4, and as
  // fd 5 an abstract unix socket, which Node binds padded with NULs to the whole sun_path.
  const tcp = net.createServer().listen(0, '127.0.0.1');
  const abstract = `\0hypnode-test-${process.pid}`;
  const unix = net.createServer().listen(abstract);
  await Promise.all([once(tcp, 'listening'), once(unix, 'listening')]);
  t.after(() => tcp.close());
  t.after(() => unix.close());
  const fdOf = (server: net.Server) => (server as unknown as { _handle: { fd: number } })._handle.fd;
  const file = openSync('/dev/null', 'r');
  t.after(() => closeSync(file));
  const child = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { listenFds } from '${LISTEN_FDS}';
import { readFileSync } from 'node:fs';
process.env.LISTEN_PID = String(process.pid);
const fds = listenFds();
const cloexec = fds.map((f) => (parseInt(/flags:\\s+(\\d+)/.exec(readFileSync('/proc/self/fdinfo/' + f.fd, 'utf8'))[1], 8) & 0o2000000) !== 0);
console.log(JSON.stringify({ fds, cloexec, left: Object.keys(process.env).filter((k) => k.startsWith('LISTEN_')) }));`,
    ],
    { env: { ...process.env, LISTEN_FDS: '3' }, stdio: ['ignore', 'pipe', 'inherit', fdOf(tcp), file, fdOf(unix)], encoding: 'utf8' },
  );
  const { port } = tcp.address() as net.AddressInfo;
  assert.deepEqual(JSON.parse(child.stdout), {
    fds: [
      { fd: 3, name: 'unknown', info: { type: 'stream', listening: true, family: 'ipv4', address: '127.0.0.1', port } },
      { fd: 4, name: 'unknown', info: null },
      { fd: 5, name: 'unknown', info: { type: 'stream', listening: true, family: 'unix', path: abstract } },
    ],
    cloexec: [true, true, true],
    left: [],
  });
});

test('native: peerCredentials of a unix connection; unixSocketPath; ENOTSOCK for a file', async (t) => {
  const path = join(tempDir(t), 'control.sock');
  const server = net.createServer().listen(path);
  await once(server, 'listening');
  t.after(() => server.close());
  const fdOf = (handle: unknown) => (handle as { _handle: { fd: number } })._handle.fd;
  const client = net.connect(path);
  t.after(() => client.destroy());
  const [accepted] = (await once(server, 'connection')) as [net.Socket];
  t.after(() => accepted.destroy());
  assert.deepEqual(peerCredentials(fdOf(accepted)), { pid: process.pid, uid: process.getuid?.(), gid: process.getgid?.() });
  assert.equal(unixSocketPath(fdOf(server)), path);

  const tcp = net.createServer().listen(0, '127.0.0.1');
  await once(tcp, 'listening');
  t.after(() => tcp.close());
  assert.equal(unixSocketPath(fdOf(tcp)), null);
  const file = openSync('/dev/null', 'r');
  t.after(() => closeSync(file));
  assert.throws(() => socketInfo(file), { code: 'ENOTSOCK', syscall: 'getsockname' });
});
