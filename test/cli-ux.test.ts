import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CLI, exampleApp, freePort, runCli, startHypnode, tempDir, waitFor, type CliResult } from './support/hypnode.js';

// Issue #25, point 3: the CLI as a user meets it: help per command, every bad input said in
// hypnode's words with exit 2, the instances listed, status's exit code.

/** The CLI run as its bin is, through its #! line (not `node main.js`): node's own checks apply. */
function runBin(args: string[], cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', [CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('help: `hypnode help`, `hypnode help COMMAND` and `COMMAND --help`, at most 80 columns off a terminal', async () => {
  const global = await runCli(['help']);
  assert.equal(global.code, 0);
  assert.match(global.stdout, /^Commands:$/m);
  const start = await runCli(['start', '--help']);
  assert.equal(start.code, 0);
  assert.equal(start.stdout, (await runCli(['help', 'start'])).stdout);
  assert.match(start.stdout, /^Usage: hypnode start APP/);
  assert.match(start.stdout, /--graceful-timeout SECONDS/);
  const unit = await runCli(['unit', '-h']);
  assert.match(unit.stdout, /--cwd DIR/);
  assert.notEqual(unit.stdout, start.stdout);
  for (const out of [global.stdout, start.stdout, unit.stdout]) {
    for (const line of out.split('\n')) assert.ok(line.length <= 80, `at most 80 columns: ${line}`);
  }
});

test('bad input: one line in hypnode\'s words, exit 2, with a suggestion where one fits', async (t) => {
  const dir = tempDir(t);
  const app = join(dir, 'app.js');
  writeFileSync(app, '');
  const cases: [string[], RegExp][] = [
    [['relaod', 'app.js'], /^hypnode: unknown command "relaod" \(did you mean "reload"\?\); see `hypnode help`$/],
    [['start', 'app.js', '--wokers', '2'], /^hypnode: unknown option --wokers \(did you mean --workers\?\); see `hypnode help start`$/],
    [['start', 'app.js', '--workers', '-1'], /^hypnode: flag --workers: expected a whole number, got "-1"$/],
    [['start', 'app.js', '--workers', '0', '--config', '/dev/null/none'], /^hypnode: config file \/dev\/null\/none does not exist/],
    [['status', 'app.js', '--fast'], /^hypnode: --fast goes with `hypnode stop`, not `hypnode status`$/],
    [['ls', 'app.js'], /^hypnode: `hypnode ls` takes no APP/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(args, { cwd: dir });
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
    assert.match(r.stderr.trim(), message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
  }
  writeFileSync(join(dir, 'hypnode.config.json'), '{"gracefulTimeuot": 5}');
  const key = await runCli(['start', 'app.js'], { cwd: dir });
  assert.equal(key.code, 2);
  assert.match(key.stderr, /unknown key "gracefulTimeuot" \(did you mean "gracefulTimeout"\?\)/);
  writeFileSync(join(dir, 'hypnode.config.json'), '{}');
  for (const [args, message] of [
    [['start', 'app.js', '--admin', '99999'], /^hypnode: flag --admin: a port from 1 to 65535 \(got "99999"\)$/],
    [['start', 'app.js', '--workers', '0'], /^hypnode: flag --workers: must be at least 1 \(got 0\)$/],
    // node itself reads --env-file even after the script's name: this one is hypnode's.
    [['start', 'app.js', '--env-file', 'missing.env'], /^hypnode: env file .*missing\.env cannot be read: ENOENT/],
  ] as const) {
    const r = await runBin([...args], dir);
    assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.stderr}`);
    assert.match(r.stderr.trim(), message);
  }
});

test('ls lists the instances; one asked for by the wrong name is named among the running ones', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port), HYPNODE_NAME: 'api' } });
  const ls = await runCli(['ls'], { env: h.env });
  assert.equal(ls.code, 0, ls.stderr);
  assert.match(ls.stdout, /^NAME\s+APP\s+GEN\s+WORKERS\s+STATE\s+PID\s+UPTIME$/m);
  assert.match(ls.stdout, new RegExp(`^api\\s+${app}\\s+1\\s+1/1\\s+serving\\s+${h.pid}\\s`, 'm'));
  const json = JSON.parse((await runCli(['ls', '--json'], { env: h.env })).stdout) as { name: string; pid: number; state: string }[];
  assert.deepEqual(json.map((i) => [i.name, i.pid, i.state]), [['api', h.pid, 'serving']]);
  const unnamed = await runCli(['status', app], { env: { ...h.env, HYPNODE_NAME: '' } });
  assert.equal(unnamed.code, 3);
  assert.match(unnamed.stderr, new RegExp(`no hypnode instance is running for ${app} .*; running: ${app} --name api$`, 'm'));
});

test('status exits 3 once nothing serves, and shows the last crash\'s output', async (t) => {
  const dir = join(tempDir(t), 'app');
  mkdirSync(dir);
  const app = join(dir, 'app.mjs');
  const broken = join(dir, 'broken');
  writeFileSync(app, `import http from 'node:http';
import { existsSync } from 'node:fs';
if (existsSync(${JSON.stringify(broken)})) throw new Error('cannot reach the database');
http.createServer((req, res) => res.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');
`);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  assert.equal((await h.cli('status')).code, 0, 'serving: 0');
  writeFileSync(broken, '');
  // Its worker dies; the ones that replace it die at boot.
  process.kill((await h.status()).workers[0]!.pid, 'SIGKILL');
  const r = await waitFor('status to exit 3', async () => {
    const s = await h.cli('status');
    return s.code === 3 && /cannot reach the database/.test(s.stdout) ? s : null;
  }, 20_000, 200);
  assert.match(r.stdout, /--- output of the last crashed worker ---\n[\s\S]*Error: cannot reach the database/);
  assert.ok(existsSync(app));
});
