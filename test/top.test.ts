import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, exampleApp, freePort, startHypnode, waitFor, type CliResult } from './support/hypnode.js';
import { get } from './support/http.js';

// Issue #25, point 4: `hypnode top` in a real pseudo-terminal (python3's pty), and as plain lines
// into a pipe; a reload's progress on a terminal ticks while it waits and names the probation.

const PTY = fileURLToPath(new URL('../../test/support/pty-run.py', import.meta.url));

/** `hypnode ARGS` in a pseudo-terminal; with `quitOn`, q is typed once the screen matches it. */
function inTerminal(args: string[], env: Record<string, string>, quitOn = '-'): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('python3', [PTY, '60', quitOn, process.execPath, CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('top redraws each worker every second in a terminal, shows a reload as it runs, and q quits', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', '--probation', '1'], { env: { PORT: String(port), BOOT_DELAY_MS: '1500' } });
  const pids = (await h.status()).workers.map((w) => w.pid);
  const watching = inTerminal(['top', app], h.env, 'generation 2  2/2 ready');
  // Requests while it watches, and a reload once it has drawn twice.
  let served = 0;
  const load = (async () => {
    for (let i = 0; i < 200 && served >= 0; i++) {
      await get(port).then(() => served++, () => {});
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await new Promise((r) => setTimeout(r, 2500));
  writeFileSync(join(dir, 'version.txt'), '2\n');
  const reload = await inTerminal(['reload', app], h.env);
  assert.equal(reload.code, 0, reload.stdout);
  const top = await watching;
  served = -1;
  await load;
  assert.equal(top.code, 0, top.stdout);
  const screens = top.stdout.split('\x1b[H\x1b[2J').slice(1);
  assert.ok(screens.length >= 4, `redrawn every second (${screens.length} screens)`);
  const first = screens[0]!;
  assert.match(first, /GEN\s+SLOT\s+PID\s+STATE\s+CPU%\s+RSS\s+REQ\/S\s+CONNS\s+LOOP\s+UPTIME/);
  for (const pid of pids) assert.match(first, new RegExp(`\\b${pid}\\s+ready\\s`), `worker ${pid} shown`);
  assert.match(top.stdout, /\s\d+\.\d\s+\d+\.\d MiB\s+\d+\s/, 'CPU %, memory and requests/s of a worker');
  assert.match(top.stdout, /reload: generation 2 [0-2]\/2 ready/, "the reload's progress");
  assert.match(screens.at(-1)!, /generation 2 {2}2\/2 ready/);
  assert.ok(top.stdout.endsWith('\x1b[?25h\r\n'), 'the cursor is given back');

  // The reload's own progress: its time ticks while the new workers boot (1.5 s), the probation named.
  const ticks = reload.stdout.match(/\r\x1b\[2K\s*\d+\.\ds {2}generation 2: 0\/2 ready/g) ?? [];
  assert.ok(ticks.length >= 5, `the wait ticks (${ticks.length} redraws)`);
  assert.match(reload.stdout, /draining generation 1; probation 1 s/);
});

test('top into a pipe: a block of plain lines each second; it ends when the manager does', async (t) => {
  const { app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '1'], { env: { PORT: String(port) } });
  const child = spawn(process.execPath, [CLI, 'top', app], { env: { ...process.env, ...h.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  t.after(() => child.kill());
  await waitFor('two blocks', () => (out.match(/^GEN\s+SLOT/gm)?.length ?? 0) >= 2, 20_000);
  assert.doesNotMatch(out, /\x1b/, 'no escape codes into a pipe');
  assert.equal((await h.cli('stop')).code, 0);
  assert.equal(await exited, 0);
  assert.match(out, /the manager of .* is gone\n$/);
});
