import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { HANG_GUARD_MS } from './hang-guard.js';

// A real systemd user manager for integration tests (test/support/sd-sandbox.sh does the work, in
// a mount and cgroup namespace of its own). systemctl runs from here, outside that namespace: the
// manager's private socket lives in the sandbox's XDG_RUNTIME_DIR, which is a plain directory.
//
// Nothing can outlive a test: the sandbox serves only while this process holds its stdin open, so
// it tears itself down when the test process dies in any way; stop() also ends, by PID, whatever
// is left in the sandbox's cgroups.

const SUPPORT = fileURLToPath(new URL('../../../test/support/', import.meta.url));
const SANDBOX = join(SUPPORT, 'sd-sandbox.sh');
const CONSOLE = join(SUPPORT, 'sd-console.py');
const SYSTEMD = '/lib/systemd/systemd';

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface SystemdSandbox {
  /** The sandbox's directory: xdg/ (XDG_RUNTIME_DIR), config/ (XDG_CONFIG_HOME), manager.log. */
  readonly dir: string;
  /** Where unit files go (then `daemon-reload`, or use writeUnit). */
  readonly unitDir: string;
  /** The environment for running `systemctl --user` (or anything else) against this manager. */
  readonly env: NodeJS.ProcessEnv;
  readonly managerPid: number;
  /** `systemctl --user ARGS...`; never rejects on a non-zero exit. */
  systemctl(...args: string[]): Promise<CommandResult>;
  /** `systemctl --user show UNIT -p ...`: property name to value; unit '' shows the manager's own. */
  show(unit: string, props: string[]): Promise<Record<string, string>>;
  /** Polls show() until `done` accepts the properties; rejects with the last ones after timeoutMs. */
  waitFor(unit: string, props: string[], done: (p: Record<string, string>) => boolean, timeoutMs?: number): Promise<Record<string, string>>;
  /** Writes UNIT into unitDir and runs daemon-reload. */
  writeUnit(name: string, text: string): Promise<void>;
  /** Everything the manager (and, through inherited stdout/stderr, every unit) wrote so far. */
  managerLog(): string;
  /** `journalctl -D <the sandbox's journal> ARGS...` (with the `journal` option). */
  journal(...args: string[]): Promise<CommandResult>;
  /** Stops every unit and the manager, kills leftovers by PID, removes cgroups and dir. Idempotent. */
  stop(): Promise<void>;
}

/** Why the sandbox cannot run here, for `test(..., { skip })`; null when it can. */
export function systemdSkipReason(): string | null {
  if (process.platform !== 'linux') return 'systemd needs Linux';
  if (process.getuid?.() !== 0) return 'not root (the systemd sandbox mounts filesystems and makes cgroups)';
  if (!existsSync(SYSTEMD)) return `no ${SYSTEMD}`;
  for (const tool of ['systemctl', 'unshare', 'findmnt', 'python3']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) return `${tool} not available`;
  }
  if (!existsSync('/proc/self/cgroup') || !existsSync('/sys/fs/cgroup')) return 'no cgroup filesystem';
  const probe = spawnSync('unshare', ['--mount', '--cgroup', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) return `unshare --mount --cgroup not permitted here: ${probe.stderr.trim()}`;
  return null;
}

/**
 * Starts a sandboxed user manager; with `t`, it is stopped when the test ends, pass or fail.
 * `journal`: a journald of its own too, for StandardOutput=journal (read it with `journal`).
 * `systemdRoot`: another systemd's unpacked packages (tools/systemd-backports.ts) to run instead.
 */
export async function startUserManager(t?: TestContext, opts: { journal?: boolean; systemdRoot?: string } = {}): Promise<SystemdSandbox> {
  const reason = systemdSkipReason();
  if (reason) throw new Error(`cannot run systemd here: ${reason}`);
  // Not under /tmp (a unit with PrivateTmp= would not see the manager's notify socket there; on a
  // real system it is /run/systemd/notify), nor /run (ProtectProc= gives a unit a /run without it).
  const dir = mkdtempSync(join(existsSync('/var/lib') ? '/var/lib' : tmpdir(), 'hypnode-sd-'));
  chmodSync(dir, 0o755); // as /run is: a unit with User= reaches its runtime directory through it
  const log = join(dir, 'manager.log');
  // Its own session: a ^C at the terminal must not kill the sandbox before it can tear down.
  const env = { ...process.env, ...(opts.journal ? { SD_SANDBOX_JOURNAL: '1' } : {}), ...(opts.systemdRoot ? { SD_ROOT: opts.systemdRoot } : {}) };
  const child = spawn('python3', [CONSOLE, log, '--', 'bash', SANDBOX, dir], { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env });
  // Ending stdin is how the sandbox is told to stop; if it is gone already, that is fine too.
  child.stdin?.on('error', () => {});
  const output = collect(child);
  const sandbox = new Sandbox(dir, child);
  t?.after(() => sandbox.stop());
  try {
    sandbox.managerPid = await readyPid(child, output);
  } catch (err) {
    await sandbox.stop();
    throw err;
  }
  return sandbox;
}

class Sandbox implements SystemdSandbox {
  readonly unitDir: string;
  readonly env: NodeJS.ProcessEnv;
  managerPid = 0;
  private stopping: Promise<void> | null = null;
  private finalLog: string | null = null;

  constructor(
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    this.unitDir = join(dir, 'config', 'systemd', 'user');
    this.env = {
      ...process.env,
      XDG_RUNTIME_DIR: join(dir, 'xdg'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      // Where /proc/1/root is not / (some containers), systemctl believes it runs in a chroot
      // and skips start, stop and restart.
      SYSTEMD_IGNORE_CHROOT: '1',
      SYSTEMD_PAGER: '',
      SYSTEMD_COLORS: '0',
    };
    // Never a fallback to the host's session bus, should the sandbox's socket be gone.
    delete this.env.DBUS_SESSION_BUS_ADDRESS;
    delete this.env.NOTIFY_SOCKET;
  }

  systemctl(...args: string[]): Promise<CommandResult> {
    return run('systemctl', ['--user', '--no-pager', '--no-ask-password', ...args], this.env);
  }

  async show(unit: string, props: string[]): Promise<Record<string, string>> {
    const r = await this.systemctl('show', ...(unit ? [unit] : []), `--property=${props.join(',')}`);
    if (r.code !== 0) throw new Error(`systemctl show ${unit} failed (${r.code}): ${r.stderr}`);
    const record: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) record[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return record;
  }

  async waitFor(unit: string, props: string[], done: (p: Record<string, string>) => boolean, timeoutMs = HANG_GUARD_MS): Promise<Record<string, string>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = await this.show(unit, props);
      if (done(p)) return p;
      if (Date.now() > deadline) throw new Error(`${unit} did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(p)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async writeUnit(name: string, text: string): Promise<void> {
    writeFileSync(join(this.unitDir, name), text);
    const r = await this.systemctl('daemon-reload');
    if (r.code !== 0) throw new Error(`daemon-reload failed: ${r.stderr}`);
  }

  journal(...args: string[]): Promise<CommandResult> {
    return run('journalctl', ['-D', join(this.dir, 'log', 'journal'), '--no-pager', '-q', ...args], this.env);
  }

  managerLog(): string {
    if (this.finalLog !== null) return this.finalLog;
    return readFileSync(join(this.dir, 'manager.log'), 'utf8');
  }

  stop(): Promise<void> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    // Closing the lifeline makes the sandbox stop every unit and the manager, then sweep its cgroups.
    this.child.stdin?.end();
    const exited = await exitOf(this.child, 40_000);
    if (!exited && this.child.pid !== undefined) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await exitOf(this.child, 5_000);
    }
    await sweep(this.dir);
    this.finalLog = existsSync(join(this.dir, 'manager.log')) ? readFileSync(join(this.dir, 'manager.log'), 'utf8') : '';
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Ends by PID whatever is still in the sandbox's cgroups (DIR/cgroups lists them), then removes them. */
async function sweep(dir: string): Promise<void> {
  const list = join(dir, 'cgroups');
  if (!existsSync(list)) return;
  const roots = readFileSync(list, 'utf8').split('\n').filter((line) => line.startsWith('/sys/fs/cgroup/'));
  for (let round = 0; round < 50; round++) {
    const pids = new Set(roots.flatMap(processesIn));
    if (pids.size === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Exited meanwhile.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const root of roots) removeTree(root);
}

function processesIn(cgroup: string): number[] {
  if (!existsSync(cgroup)) return [];
  const pids: number[] = [];
  try {
    pids.push(...readFileSync(join(cgroup, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
    for (const entry of readdirSync(cgroup, { withFileTypes: true })) {
      if (entry.isDirectory()) pids.push(...processesIn(join(cgroup, entry.name)));
    }
  } catch {
    // Removed while we looked.
  }
  return pids;
}

function removeTree(cgroup: string): void {
  if (!existsSync(cgroup)) return;
  for (const entry of readdirSync(cgroup, { withFileTypes: true })) {
    if (entry.isDirectory()) removeTree(join(cgroup, entry.name));
  }
  try {
    rmdirSync(cgroup);
  } catch {
    // Still busy, or gone.
  }
}

function collect(child: ChildProcess): { stdout: string; stderr: string } {
  const output = { stdout: '', stderr: '' };
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (output.stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (output.stderr += s));
  return output;
}

function readyPid(child: ChildProcess, output: { stdout: string; stderr: string }, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = /^ready (\d+)$/m.exec(output.stdout);
      if (m) finish(() => resolve(Number(m[1])));
    };
    const exit = (code: number | null) => finish(() => reject(new Error(`the systemd sandbox exited (${code}) before the manager was up: ${output.stderr.trim()}`)));
    const timer = setTimeout(() => finish(() => reject(new Error(`the systemd manager was not up after ${timeoutMs} ms: ${output.stderr.trim()}`))), timeoutMs);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', exit);
      settle();
    };
    child.stdout?.on('data', check);
    child.on('exit', exit);
  });
}

function exitOf(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Polls `probe` until it returns true; rejects after timeoutMs. */
export async function eventually(what: string, probe: () => boolean, timeoutMs = HANG_GUARD_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs a command to completion; never rejects on a non-zero exit. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = collect(child);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ...output }));
  });
}
