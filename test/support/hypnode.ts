import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { Status } from '../../src/protocol/status.js';
import { HANG_GUARD_MS } from './hang-guard.js';

// Real hypnode managers for the tests: each runs from the built CLI in a temp directory of its
// own (its control socket too), and is stopped, with every worker it ever had, when the test ends.

export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
export const EXAMPLES = fileURLToPath(new URL('../../../examples/', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A temp directory removed after the test. */
export function tempDir(t: TestContext, prefix = 'hypnode-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Copies examples/NAME into a directory `app` of a fresh temp directory (its unit is then
 * hypnode-app.service, as in a deploy to /srv/app) and returns the path of its app.js.
 */
export function exampleApp(t: TestContext, name: string, version = '1'): { dir: string; app: string } {
  const dir = join(tempDir(t), 'app');
  cpSync(join(EXAMPLES, name), dir, { recursive: true });
  writeFileSync(join(dir, 'version.txt'), `${version}\n`);
  return { dir, app: join(dir, 'app.js') };
}

/**
 * Whether the process still runs. A zombie does not: an orphan that exited waits for PID 1 to reap
 * it, which on these machines takes seconds, and signal 0 still reaches it meanwhile.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // The state follows the command name, which is in parentheses and may itself hold any.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

/** The running `hypnode start` processes for `app`, found in /proc: the old manager, the new one, or both. */
export function managersOf(app: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^[ZX]/.test(state.slice(state.lastIndexOf(')') + 2))) continue;
      if (argv.includes('start') && argv.includes(app)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = HANG_GUARD_MS, everyMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // Not started at all (its cwd removed by a test's cleanup, say): no 'close' follows.
    child.on('error', (err) => resolve({ code: null, stdout, stderr: err.message }));
  });
}

export class Hypnode {
  readonly seenPids = new Set<number>();
  output = '';
  exitCode: number | null = null;
  readonly exited: Promise<number | null>;

  constructor(
    readonly proc: ChildProcess,
    readonly app: string,
    readonly env: Record<string, string>,
    /** Where the CLI runs its commands (the directory `start` ran in). */
    readonly cwd?: string,
  ) {
    // Decoded per stream (setEncoding): a character split between two chunks stays whole.
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => (this.output += d));
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve((this.exitCode = code))));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  cli(command: string, ...args: string[]): Promise<CliResult> {
    return runCli([command, this.app, ...args], { env: this.env, cwd: this.cwd });
  }

  async status(): Promise<Status> {
    const r = await this.cli('status', '--json');
    if (r.code !== 0) throw new Error(`hypnode status failed (${r.code}): ${r.stderr}`);
    const s = JSON.parse(r.stdout) as Status;
    for (const w of s.workers) this.seenPids.add(w.pid);
    return s;
  }

  async waitServing(timeoutMs = HANG_GUARD_MS): Promise<Status> {
    return waitFor('the manager to serve', async () => {
      if (this.exitCode !== null) throw new Error(`hypnode exited with ${this.exitCode} before serving:\n${this.output}`);
      const r = await this.cli('status', '--json');
      if (r.code !== 0) return null;
      const s = JSON.parse(r.stdout) as Status;
      for (const w of s.workers) this.seenPids.add(w.pid);
      return s.state === 'serving' && s.workersReady === s.workersWanted ? s : null;
    }, timeoutMs, 100);
  }

  /** Stops the manager (TERM, then KILL) and kills any worker still alive; never throws. */
  async cleanup(): Promise<void> {
    if (this.exitCode === null && alive(this.pid)) {
      try {
        await this.status();
      } catch {
        // The manager may not answer any more; the pids seen so far are still ours to end.
      }
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    for (const pid of this.seenPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/**
 * Starts `hypnode start APP ...` as a child and stops it (and every worker) after the test.
 * `job`: started as a shell starts a job, leading a process group (and session) of its own.
 */
export async function startHypnode(
  t: TestContext,
  app: string,
  args: string[] = [],
  opts: { env?: Record<string, string>; wait?: boolean; job?: boolean; cwd?: string } = {},
): Promise<Hypnode> {
  const runtime = tempDir(t, 'hypnode-run-');
  // A cwd is given as a shell would: PWD names it, symlinks kept.
  const env = { HYPNODE_RUNTIME_DIR: runtime, ...(opts.cwd ? { PWD: opts.cwd } : {}), ...opts.env };
  const proc = spawn(process.execPath, [CLI, 'start', app, ...args], { cwd: opts.cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.job === true });
  const h = new Hypnode(proc, app, env, opts.cwd);
  t.after(() => h.cleanup());
  if (opts.wait !== false) await h.waitServing();
  return h;
}

/** Asserts that none of the processes the manager ever had is alive (after a stop). */
export async function assertNoneLeft(h: Hypnode): Promise<void> {
  const left = await waitFor('every process to exit', () => ([h.pid, ...h.seenPids].every((p) => !alive(p)) ? true : null), 5000).catch(() => false);
  if (!left) throw new Error(`processes left behind: ${[h.pid, ...h.seenPids].filter(alive).join(', ')}`);
}
