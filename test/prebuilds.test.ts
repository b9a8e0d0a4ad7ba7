import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { nodeBinary } from '../tools/node-lines.js';
import { alive, tempDir, waitFor } from './support/hypnode.js';
import { ROOT, run } from './support/installed.js';

// Issue #12, point 3: each prebuilt addon proven by running it. The linux-x64 and linux-arm64
// glibc builds are loaded by hypnode's own loader (dist/src/native.js, node-gyp-build) in a real
// Node of their architecture, the arm64 one under qemu-user with Debian's arm64 libraries, and
// every function is exercised: a notify datagram carrying an fd, received by a python3 socket;
// peer credentials; socket path and info; FD_CLOEXEC; setpgid; and the orphan watch's thread,
// which must end a process stuck in a busy loop once its parent is gone. No musl Node is at hand
// here, so the musl build is loaded by musl's own dynamic loader in a small C host that stands
// in for Node-API, and its module initialisation is run.

const QEMU = ['qemu-aarch64-static', '-L', '/usr/aarch64-linux-gnu'];
const prebuild = (dir: string, libc = 'glibc') => join(ROOT, 'prebuilds', dir, `hypnode.${libc}.node`);
const missing = (dir: string, libc: string, apt: string) =>
  existsSync(prebuild(dir, libc)) ? false : `no ${dir} ${libc} prebuild: apt-get install ${apt}, then npm run prebuild`;
const has = (cmd: string, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

const hostSkip = process.platform !== 'linux' || process.arch !== 'x64' ? 'the prebuilds are made and run on linux-x64' : false;
const python = has('python3') ? false : 'python3 is needed to receive the notify datagram';
const x64Skip = hostSkip || python || missing('linux-x64', 'glibc', 'gcc');
const arm64Skip =
  x64Skip ||
  missing('linux-arm64', 'glibc', 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross') ||
  (has(QEMU[0]!) ? false : 'qemu-aarch64-static is missing: apt-get install qemu-user-static') ||
  (existsSync('/usr/aarch64-linux-gnu/lib/libstdc++.so.6') ? false : 'arm64 libraries are missing: apt-get install libc6-arm64-cross libstdc++6-arm64-cross');
const muslSkip = hostSkip || missing('linux-x64', 'musl', 'musl-tools') || (has('musl-gcc', ['-dumpmachine']) ? false : 'musl-gcc is missing: apt-get install musl-tools');

// Binds an AF_UNIX datagram socket, then prints the first datagram it gets: the text, where the
// fds it carried point, and the sender's credentials (SO_PASSCRED), as systemd would see them.
const RECEIVER = `
import array, json, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
s.settimeout(120)
print('ready', flush=True)
msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
fds, cred = [], None
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        a = array.array('i'); a.frombytes(data[:len(data) - len(data) % 4]); fds.extend(a)
    elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
        cred = dict(zip(('pid', 'uid', 'gid'), struct.unpack('iII', data[:12])))
print(json.dumps({'message': msg.decode(), 'fds': [os.readlink('/proc/self/fd/%d' % fd) for fd in fds], 'cred': cred}), flush=True)
`;

// Runs in the Node under test: hypnode's loader, then every function of the addon.
const EXERCISE = `
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
const [nativeUrl, sock, file, tmp] = process.argv.slice(2);
const native = await import(nativeUrl);
const out = { arch: process.arch, pid: process.pid, info: native.nativeAddonInfo() };
const fd = fs.openSync(file, 'r');
native.notify(sock, 'READY=1\\nSTATUS=hello from ' + process.arch, [fd]);
try { native.notify(tmp + '/nobody-listens', 'X=1', []); } catch (e) { out.notifyError = [e.code, e.syscall]; }
const path = tmp + '/peer.sock';
const server = net.createServer();
await new Promise((r) => server.listen(path, r));
const accepted = new Promise((r) => server.once('connection', r));
const client = net.connect(path);
await new Promise((r) => client.once('connect', r));
const conn = await accepted;
out.peer = native.peerCredentials(conn._handle.fd);
out.serverPath = native.unixSocketPath(server._handle.fd);
out.unixInfo = native.socketInfo(server._handle.fd);
const tcp = net.createServer();
await new Promise((r) => tcp.listen(0, '127.0.0.1', r));
out.tcpInfo = native.socketInfo(tcp._handle.fd);
out.tcpPort = tcp.address().port;
try { native.socketInfo(fd); } catch (e) { out.fileError = e.code; }
const cloexec = () => (parseInt(/flags:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/fdinfo/3', 'utf8'))[1], 8) & 0o2000000) !== 0;
native.setCloexec(3);
out.cloexec = cloexec();
try { native.setCloexec(1000000); } catch (e) { out.cloexecError = [e.code, e.syscall]; }
// The start lock: one open file holds it, another open file of the same file cannot take it.
const lockA = fs.openSync(tmp + '/start.lock', 'w');
const lockB = fs.openSync(tmp + '/start.lock', 'r');
out.flock = [native.tryLock(lockA), native.tryLock(lockB), native.tryLock(lockA)];
try { native.tryLock(1000000); } catch (e) { out.flockError = [e.code, e.syscall]; }
// Read by another program: qemu-user fakes a guest's own /proc/self/stat (with pgrp 0).
const pgrp = () => Number(execFileSync('cat', ['/proc/' + process.pid + '/stat'], { encoding: 'utf8' }).split(') ')[1].split(' ')[2]);
out.pgrp = [pgrp()];
native.leaveForegroundGroup();
out.pgrp.push(pgrp());
// A child that exits while this thread is busy: reaped here, before libuv's own wait runs.
const child = (await import('node:child_process')).spawn('true', { stdio: 'ignore' });
child.unref();
let reaped = false;
for (const until = Date.now() + 5000; !reaped && Date.now() < until; ) reaped = native.reapChild(child.pid);
out.reap = [native.reapChild(process.pid), reaped];
// A subreaper adopts the orphan of a child (a shell that started sleep and exited).
try {
  native.setChildSubreaper(true);
  const orphan = Number(execFileSync('sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' }));
  out.adopted = Number(execFileSync('cat', ['/proc/' + orphan + '/stat'], { encoding: 'utf8' }).split(') ')[1].split(' ')[1]) === process.pid;
  process.kill(orphan, 'SIGKILL');
  for (const until = Date.now() + 5000; !native.reapChild(orphan) && Date.now() < until; );
} catch (e) { out.adopted = e.code; }
// The output lock and a write of whole lines under it (and to an fd that cannot be written).
const lockFd = native.outputLock();
const log = fs.openSync(tmp + '/lines.log', 'a');
native.setNonBlocking(log);
const ro = fs.openSync(file, 'r');
out.lines = [native.writeSome(lockFd, log, Buffer.from('one\\ntwo\\n'), 0), native.writeSome(-1, log, Buffer.from('three\\n'), 0), native.writeSome(lockFd, ro, Buffer.from('x\\n'), 0)];
out.written = fs.readFileSync(tmp + '/lines.log', 'utf8');
client.destroy(); conn.destroy(); server.close(); tcp.close();
console.log(JSON.stringify(out));
`;

// The orphan watch: ends this process 300 ms after its parent is gone, although its event loop
// is stuck in a busy loop from the moment it says it is watching.
const ORPHAN = `
import fs from 'node:fs';
const native = await import(process.argv[2]);
native.exitWhenOrphaned(process.ppid, 300);
fs.writeSync(1, 'watching ' + process.pid + '\\n');
for (;;) {}
`;

interface Exercised {
  arch: string;
  pid: number;
  info: { path: string; origin: string; target: string } | null;
  notifyError: [string, string];
  peer: { pid: number; uid: number; gid: number };
  serverPath: string;
  unixInfo: Record<string, unknown>;
  tcpInfo: Record<string, unknown>;
  tcpPort: number;
  fileError: string;
  cloexec: boolean;
  cloexecError: [string, string];
  flock: boolean[];
  flockError: [string, string];
  pgrp: [number, number];
  reap: [boolean, boolean];
  adopted: boolean | string;
  lines: (number | string)[];
  written: string;
}

/** Runs every function of the addon in `node` (under `runner`), with only prebuilds to load from. */
async function exercise(t: TestContext, node: string, runner: string[], dir: string): Promise<void> {
  const tmp = tempDir(t, 'hypnode-prebuild-');
  const script = join(tmp, 'exercise.mjs');
  writeFileSync(script, EXERCISE);
  const file = join(tmp, 'passed-as-fd.txt');
  writeFileSync(file, 'x');
  const sock = join(tmp, 'notify.sock');
  const receiver = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => receiver.kill('SIGKILL'));
  let received = '';
  receiver.stdout.on('data', (d: Buffer) => (received += d.toString()));
  receiver.stderr.on('data', (d: Buffer) => (received += d.toString()));
  await waitFor('the receiver to bind', () => received.startsWith('ready\n'), 10_000);

  // fd 3: inherited, as a socket from systemd would be.
  const inherited = openSync(file, 'r');
  const nativeUrl = pathToFileURL(join(ROOT, 'dist', 'src', 'native.js')).href;
  const [cmd, ...args] = [...runner, node, script, nativeUrl, sock, file, tmp];
  // PREBUILDS_ONLY: node-gyp-build skips build/Release, where a checkout keeps its x64 source build.
  const child = spawn(cmd!, args, { env: { ...process.env, PREBUILDS_ONLY: '1' }, stdio: ['ignore', 'pipe', 'pipe', inherited] });
  closeSync(inherited);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `the ${dir} run failed:\n${stdout}\n${stderr}`);
  const out = JSON.parse(stdout) as Exercised;

  assert.equal(out.arch, dir.split('-')[1]);
  assert.deepEqual(out.info, { path: prebuild(dir), origin: 'prebuilt', target: `${dir} glibc` }, "hypnode's loader picked the prebuild");
  await waitFor('the datagram', () => received.split('\n').length > 2, 10_000);
  const datagram = JSON.parse(received.split('\n')[1]!) as { message: string; fds: string[]; cred: { pid: number; uid: number } };
  assert.equal(datagram.message, `READY=1\nSTATUS=hello from ${out.arch}`);
  assert.deepEqual(datagram.fds, [file], 'the fd arrived (SCM_RIGHTS) and is the file that was sent');
  assert.equal(datagram.cred.pid, out.pid, 'the kernel says the datagram came from the process under test');
  assert.deepEqual(out.notifyError, ['ENOENT', 'sendmsg']);
  assert.deepEqual(out.peer, { pid: out.pid, uid: process.getuid!(), gid: process.getgid!() });
  assert.equal(out.serverPath, join(tmp, 'peer.sock'));
  assert.deepEqual(out.unixInfo, { type: 'stream', listening: true, family: 'unix', path: join(tmp, 'peer.sock') });
  assert.deepEqual(out.tcpInfo, { type: 'stream', listening: true, family: 'ipv4', address: '127.0.0.1', port: out.tcpPort });
  assert.equal(out.fileError, 'ENOTSOCK');
  // Node itself marks inherited fds close-on-exec at startup (20 to 24 do), so this only shows
  // that the call reaches fcntl: the fd keeps the flag, and a bad fd is an EBADF from fcntl.
  assert.equal(out.cloexec, true, 'fd 3 is close-on-exec after setCloexec');
  assert.deepEqual(out.cloexecError, ['EBADF', 'fcntl']);
  assert.deepEqual(out.flock, [true, false, true], 'tryLock: taken, refused to another open file, held');
  assert.deepEqual(out.flockError, ['EBADF', 'flock']);
  assert.notEqual(out.pgrp[0], out.pid);
  assert.equal(out.pgrp[1], out.pid, 'leaveForegroundGroup made it lead a process group of its own');
  assert.deepEqual(out.reap, [false, true], 'reapChild: not a child of its own; a child that exited, reaped');
  // qemu-user does not pass PR_SET_CHILD_SUBREAPER on (EINVAL): the call reached prctl, that is all.
  if (out.arch === 'arm64') assert.ok(out.adopted === true || out.adopted === 'EINVAL', `setChildSubreaper: ${out.adopted}`);
  else assert.equal(out.adopted, true, "setChildSubreaper: a child's orphan became its child");
  assert.deepEqual(out.lines, [8, 6, 'EBADF'], 'writeSome: under the lock, without it, and to an fd open for reading');
  assert.equal(out.written, 'one\ntwo\nthree\n');
}

/** exitWhenOrphaned: kill the parent of a process stuck in a busy loop; the thread must end it. */
async function orphanWatch(t: TestContext, node: string, runner: string[]): Promise<void> {
  const tmp = tempDir(t, 'hypnode-orphan-');
  const script = join(tmp, 'orphan.mjs');
  writeFileSync(script, ORPHAN);
  const nativeUrl = pathToFileURL(join(ROOT, 'dist', 'src', 'native.js')).href;
  const quoted = [...runner, node, script, nativeUrl].map((a) => `'${a}'`).join(' ');
  const parent = spawn('bash', ['-c', `${quoted} & wait`], { env: { ...process.env, PREBUILDS_ONLY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  parent.stdout.on('data', (d: Buffer) => (output += d.toString()));
  parent.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const pid = Number((await waitFor('the orphan-to-be to watch', () => /watching (\d+)/.exec(output), 60_000))[1]);
  t.after(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(alive(pid), 'it runs while its parent does');
  parent.kill('SIGKILL');
  const killed = Date.now();
  await waitFor('the orphan to exit', () => !alive(pid), 10_000).catch(() => {});
  const took = Date.now() - killed;
  t.diagnostic(`the orphan stuck in a busy loop exited ${took} ms after its parent was killed`);
  assert.equal(alive(pid), false, `the orphan outlived its parent by ${took} ms and counting:\n${output}`);
}

test('the linux-x64 glibc prebuild, loaded by hypnode in this Node: every function', { skip: x64Skip }, async (t) => {
  await exercise(t, process.execPath, [], 'linux-x64');
  await orphanWatch(t, process.execPath, []);
});

test('the linux-arm64 glibc prebuild, loaded by hypnode in an arm64 Node under qemu: every function', { skip: arm64Skip }, async (t) => {
  const node = nodeBinary(24, 'arm64');
  const version = await run(QEMU[0]!, [...QEMU.slice(1), node, '-p', 'process.arch + " " + process.version']);
  assert.match(version.stdout, /^arm64 v24\./, `the arm64 Node runs under qemu: ${version.stderr}`);
  t.diagnostic(`node ${version.stdout.trim()} under ${QEMU.join(' ')}`);
  await exercise(t, node, QEMU, 'linux-arm64');
  await orphanWatch(t, node, QEMU);
});

// A stand-in for Node under musl: a program linked by musl-gcc (so musl's dynamic loader runs it)
// that defines the Node-API functions the addon imports, dlopen()s the musl prebuild with every
// symbol bound at once, and runs its module initialisation, which must register each function.
const MUSL_HOST = (stubs: string[]) => `
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
typedef struct { const char *utf8name; void *name; void *method, *getter, *setter, *value; int attributes; void *data; } descriptor;
static int defined = -1;
static char names[1024];
int napi_define_properties(void *env, void *object, size_t n, const descriptor *p) {
  (void)env; (void)object;
  for (size_t i = 0; i < n; i++) {
    if (!p[i].method) return 1;
    strcat(names, i ? "," : "");
    strcat(names, p[i].utf8name);
  }
  defined = (int)n;
  return 0;
}
${stubs.map((s) => `int ${s}(void) { return 0; }`).join('\n')}
int main(int argc, char **argv) {
  (void)argc;
  void *addon = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!addon) { printf("{\\"error\\":\\"%s\\"}\\n", dlerror()); return 1; }
  void *(*init)(void *, void *) = (void *(*)(void *, void *))dlsym(addon, "napi_register_module_v1");
  if (!init) { printf("{\\"error\\":\\"no napi_register_module_v1\\"}\\n"); return 1; }
  void *exports = &defined;
  void *returned = init((void *)argv, exports);
  printf("{\\"defined\\":%d,\\"names\\":\\"%s\\",\\"exports\\":%s}\\n", defined, names, returned == exports ? "true" : "false");
  return 0;
}
`;

test('the linux-x64 musl prebuild links musl alone and loads under musl: its module registers every function', { skip: muslSkip }, async (t) => {
  const file = prebuild('linux-x64', 'musl');
  const needed = spawnSync('readelf', ['-d', file], { encoding: 'utf8' }).stdout;
  assert.deepEqual([...needed.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1]), ['libc.so'], "it needs musl's libc.so and nothing else");
  const symbols = spawnSync('objdump', ['-T', file], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(symbols, /GLIBC_/, 'no glibc symbol versions');
  const imported = [...symbols.matchAll(/\*UND\*\s+\S+\s+(?:Base\s+)?(napi_\w+)/g)].map((m) => m[1]!);
  assert.ok(imported.includes('napi_define_properties') && imported.length > 10, `it imports Node-API: ${imported.join(' ')}`);

  const dir = tempDir(t, 'hypnode-musl-');
  writeFileSync(join(dir, 'host.c'), MUSL_HOST([...new Set(imported)].filter((s) => s !== 'napi_define_properties')));
  const cc = await run('musl-gcc', ['-std=gnu11', '-rdynamic', '-o', join(dir, 'host'), join(dir, 'host.c')]);
  assert.equal(cc.code, 0, cc.stderr);
  const interp = spawnSync('readelf', ['-l', join(dir, 'host')], { encoding: 'utf8' }).stdout;
  assert.match(interp, /Requesting program interpreter: \/lib\/ld-musl-x86_64\.so\.1/, "the host runs under musl's dynamic loader");
  const r = await run(join(dir, 'host'), [file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    defined: 15,
    names: 'notify,peerCredentials,unixSocketPath,socketInfo,setCloexec,tryLock,exitWhenOrphaned,leaveForegroundGroup,reapChild,setChildSubreaper,outputLock,writeSome,writeText,setNonBlocking,journalStream',
    exports: true,
  });
  // And glibc's loader refuses it: the musl build is no glibc build in disguise.
  const glibc = await run(process.execPath, ['-e', `require(${JSON.stringify(file)})`]);
  assert.notEqual(glibc.code, 0);
});
