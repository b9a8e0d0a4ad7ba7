import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually, startUserManager, systemdSkipReason } from './support/systemd.js';
import { alive } from './support/hypnode.js';

// The systemd sandbox itself: a real user manager whose units live in the sandbox's cgroups, and
// nothing of which survives the sandbox, whether it is stopped or its test process dies.

const skip = systemdSkipReason() ?? false;
const HARNESS = new URL('./support/systemd.js', import.meta.url).href;

/** /proc/PID/stat (state, parent...), for a failure message. */
function stat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').trim();
  } catch {
    return 'gone';
  }
}

/** A unit that leaves a process behind when it is stopped (KillMode=process), writing both PIDs. */
function leakyUnit(dir: string): string {
  // systemd expands $ in ExecStart=: $$$$ reaches the shell as $$.
  return `[Service]
KillMode=process
ExecStart=/bin/sh -c 'echo unit says hello; sleep 1000 & echo $$! > ${dir}/left.tmp; echo $$$$ > ${dir}/main.tmp; mv ${dir}/left.tmp ${dir}/left.pid; mv ${dir}/main.tmp ${dir}/main.pid; exec sleep 1000'
`;
}

test('a sandboxed user manager runs units in cgroups of its own and takes every process with it', { skip }, async (t) => {
  const sb = await startUserManager(t);
  const version = await sb.show('', ['Version']);
  assert.match(version.Version ?? '', /^\d+/);
  await sb.writeUnit('leaky.service', leakyUnit(sb.dir));
  assert.equal((await sb.systemctl('start', 'leaky.service')).code, 0);
  await sb.waitFor('leaky.service', ['ActiveState'], (p) => p.ActiveState === 'active');
  await eventually('the unit to write its PIDs', () => existsSync(join(sb.dir, 'main.pid')) && existsSync(join(sb.dir, 'left.pid')));
  const main = Number(readFileSync(join(sb.dir, 'main.pid'), 'utf8'));
  const left = Number(readFileSync(join(sb.dir, 'left.pid'), 'utf8'));
  assert.equal((await sb.show('leaky.service', ['MainPID'])).MainPID, String(main));
  for (const pid of [main, left]) assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), /\/sd-sandbox-\d+\/app\.slice\/leaky\.service$/m);
  const cgroups = readFileSync(join(sb.dir, 'cgroups'), 'utf8').split('\n').filter(Boolean);
  assert.ok(cgroups.length > 0);

  await sb.stop();
  for (const pid of [main, left, sb.managerPid]) assert.equal(alive(pid), false, `process ${pid} outlived the sandbox: ${stat(pid)}`);
  for (const cgroup of cgroups) assert.equal(existsSync(cgroup), false, `${cgroup} was not removed`);
  assert.equal(existsSync(sb.dir), false);
  // The manager's log and the unit's output, kept after stop().
  const log = sb.managerLog();
  assert.match(log, /unit says hello/);
  assert.match(log, /leaky\.service: Unit process \d+ \(sleep\) remains running after unit stopped/);
});

test('the sandbox tears itself down when its test process is killed', { skip }, async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'hypnode-sd-test-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  const victim = join(scratch, 'victim.mjs');
  writeFileSync(
    victim,
    `import { readFileSync } from 'node:fs';
import { startUserManager } from '${HARNESS}';
const sb = await startUserManager();
await sb.writeUnit('leaky.service', ${JSON.stringify(leakyUnit(scratch))});
await sb.systemctl('start', 'leaky.service');
const cgroups = readFileSync(sb.dir + '/cgroups', 'utf8').split('\\n').filter(Boolean);
console.log(JSON.stringify({ dir: sb.dir, managerPid: sb.managerPid, cgroups }));
setInterval(() => {}, 1 << 30);
`,
  );
  const child = spawn(process.execPath, [victim], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
    });
    child.on('exit', (code) => reject(new Error(`the test process exited (${code}) before its sandbox was up`)));
  });
  const { dir, managerPid, cgroups } = JSON.parse(line) as { dir: string; managerPid: number; cgroups: string[] };
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await eventually('the unit to write its PIDs', () => existsSync(join(scratch, 'main.pid')) && existsSync(join(scratch, 'left.pid')));
  const pids = [managerPid, Number(readFileSync(join(scratch, 'main.pid'), 'utf8')), Number(readFileSync(join(scratch, 'left.pid'), 'utf8'))];
  assert.ok(pids.every(alive));
  t.after(() => pids.filter(alive).forEach((pid) => process.kill(pid, 'SIGKILL')));

  child.kill('SIGKILL');
  await eventually('every sandbox process to end', () => !pids.some(alive), 30_000);
  await eventually('the sandbox cgroups to go', () => !cgroups.some((c) => existsSync(c)), 30_000);
});
