import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Status } from '../../src/protocol/status.js';
import type { RunningLoad } from '../../tools/load.js';
import { CLI, managersOf, tempDir, waitFor } from './hypnode.js';
import type { Answer } from './http.js';

// What the tests of a manager dying mid-upgrade share, in the foreground and under systemd.

/** hello's app, plus /hold?ms=N: an old worker busy with it keeps the old generation draining. */
const APP = `import { readFileSync } from 'node:fs';
import http from 'node:http';
const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
http.createServer((req, res) => {
  const reply = () => {
    res.setHeader('x-version', version);
    res.setHeader('x-pid', String(process.pid));
    res.end('hello\\n');
  };
  const hold = /^\\/hold\\?ms=(\\d+)$/.exec(req.url ?? '');
  setTimeout(reply, hold ? Number(hold[1]) : req.url === '/slow' ? 300 : 0);
}).listen(Number(process.env.PORT));
`;

export function faultsApp(t: TestContext): { dir: string; app: string } {
  const dir = tempDir(t, 'hypnode-faults-');
  writeFileSync(join(dir, 'app.mjs'), APP);
  writeFileSync(join(dir, 'version.txt'), '1\n');
  return { dir, app: join(dir, 'app.mjs') };
}

/** `hypnode upgrade` running, its output so far readable while it runs. */
export function upgrading(args: string[], env: Record<string, string> = {}): { output: () => string; done: Promise<number | null> } {
  let output = '';
  const proc = spawn(process.execPath, [CLI, 'upgrade', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
  return { output: () => output, done: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
}


/** Where in an upgrade the old manager is killed: all once the new one's workers stand by. */
export type Point = 'standing by' | 'probation' | 'drain';

export interface UpgradeWatch {
  app: string;
  oldPid: number;
  /** The old manager's serving generation. */
  generation: number | null;
  pidFile: string;
  /** `hypnode upgrade`'s output so far. */
  output: () => string;
  status: () => Promise<Status>;
}

/** Waits for the upgrade to reach `point` (freezing the old manager for 'standing by'); returns the new manager's PID. */
export async function reachPoint(point: Point, w: UpgradeWatch): Promise<number> {
  const newPid = () => {
    const named = existsSync(w.pidFile) ? Number(readFileSync(w.pidFile, 'utf8')) : 0;
    return named && named !== w.oldPid ? named : null;
  };
  if (point === 'standing by') {
    // Frozen as soon as it started the new manager, the old one never hears it stand by, nor tells it to take the traffic.
    // The old manager says so just before it spawns the new one: frozen on seeing the line, it
    // could be stopped before the spawn (then nothing stands by, and under systemd the
    // watchdog kills the old one 30 s later). The new process itself is what is waited for.
    await waitFor('the upgrade to start a new manager', () => /starting a new manager/.test(w.output()) || null, 30_000);
    await waitFor('the new manager\'s process', () => managersOf(w.app).some((pid) => pid !== w.oldPid) || null, 30_000);
    process.kill(w.oldPid, 'SIGSTOP');
    return waitFor('the new manager to stand by (it claims the PID file)', newPid, 60_000);
  }
  await waitFor('the new manager to take the traffic', () => /serves every new connection/.test(w.output()) || null, 60_000);
  const successor = newPid();
  assert.ok(successor, 'the PID file names the new manager once its workers stand by');
  // Drained old workers are kept (an upgrade that fails yet resumes them) until the commit.
  const drained = async () => (await w.status()).workers.filter((x) => x.generation === w.generation).every((x) => x.state === 'drained');
  if (point === 'probation') await waitFor('the old workers to drain', async () => (await drained()) || null, 30_000);
  else assert.equal(await drained(), false, 'an old worker still drains');
  return successor;
}

/**
 * After the old manager died at `point`: the successor answers as the serving manager, and the
 * load (stopped half a second later) failed no request and reached the new code.
 */
export async function successorServes(t: TestContext, o: { point: Point; successor: number; status: () => Promise<Status>; load: RunningLoad; held: Promise<Answer | null> | null }): Promise<Status> {
  const now = await waitFor('the new manager to answer', async () => {
    const s = await o.status().catch(() => null);
    return s?.pid === o.successor && s.state === 'serving' ? s : null;
  }, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  const result = await o.load.stop();
  t.diagnostic(`${result.total} requests, ${JSON.stringify(result.failures)} failed; held request: ${o.held ? ((await o.held)?.status ?? 'cut') : '-'}`);
  assert.deepEqual(result.failures, {}, `no request may fail when the old manager dies ${o.point}`);
  assert.ok(result.versions['2'], `the new code answered: ${JSON.stringify(result.versions)}`);
  return now;
}
