import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { Status } from '../../src/protocol/status.js';
import { alive, tempDir, waitFor, type CliResult } from './hypnode.js';

// hypnode as a user gets it: `npm pack` of this checkout, installed with npm into an empty project
// on a machine without a C toolchain, and run from there (test/install.test.ts).

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The tools a source build needs; each is replaced by /bin/false while npm installs. */
const TOOLCHAIN = ['cc', 'gcc', 'g++', 'c++', 'clang', 'make', 'gmake', 'python3', 'python'];

// Runs "$@" in a private mount namespace where every copy of those tools on PATH (and what its
// symlinks point to) is /bin/false; refuses to run (exit 97) when one still works.
const MASK = `
set -eu
for tool in ${TOOLCHAIN.join(' ')}; do
  for found in $(which -a "$tool" 2>/dev/null || true); do
    mount --bind /bin/false "$(readlink -f "$found")"
  done
done
for tool in cc gcc g++ make python3; do
  if "$tool" --version >/dev/null 2>&1; then echo "mask: $tool still runs" >&2; exit 97; fi
done
exec "$@"
`;

/** Why the toolchain cannot be masked here, or false. */
export function maskSkipReason(): string | false {
  if (process.platform !== 'linux') return 'installs a Linux package';
  if (process.getuid?.() !== 0) return 'not root: masking the C toolchain needs a private mount namespace';
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) return `unshare --mount not permitted here: ${probe.stderr.trim()}`;
  if (!npmCli()) return 'npm not found';
  return false;
}

let cli: string | null | undefined;
/** npm's own entry point, so that npm runs on the Node under test rather than on PATH's. */
export function npmCli(): string | null {
  if (cli !== undefined) return cli;
  const which = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  const found = which.status === 0 ? realpathSync(which.stdout.trim()) : null;
  return (cli = found && existsSync(found) ? found : null);
}

/** PATH with this process's Node first: npm's scripts run `node` from it. */
export function pathWithNode(node = process.execPath): string {
  return [dirname(node), process.env.PATH ?? ''].join(delimiter);
}

export function run(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `npm ARGS` on this process's Node, in `cwd`, with the C toolchain and python masked. */
export function maskedNpm(cwd: string, args: string[]): Promise<CliResult> {
  const npm = npmCli()!;
  return run('unshare', ['--mount', '--propagation', 'private', '--', 'bash', '-c', MASK, 'mask', process.execPath, npm, ...args, '--no-audit', '--no-fund'], {
    cwd,
    env: { ...process.env, PATH: pathWithNode() },
    timeoutMs: 300_000,
  });
}

export interface Packed {
  /** The tarball `npm pack` made. */
  tgz: string;
  /** The same package without prebuilds/linux-x64: for a machine no prebuild fits. */
  noPrebuild: string;
  /** `tar -tzf` of tgz. */
  files: string[];
  /** When the pack began (ms since the epoch), to tell prebuilds it made from older ones. */
  startedAt: number;
}

let packed: Promise<Packed> | undefined;

/** `npm pack` of this checkout (its prepack builds the prebuilds), once per test process. */
export function pack(): Promise<Packed> {
  packed ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypnode-pack-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const startedAt = Date.now() - 1000;
    const r = await run('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, timeoutMs: 300_000 });
    const name = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    if (r.code !== 0 || !name) throw new Error(`npm pack failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
    const tgz = join(dir, name);
    const list = spawnSync('tar', ['-tzf', tgz], { encoding: 'utf8' });
    const unpacked = join(dir, 'unpacked');
    mkdirSync(unpacked);
    spawnSync('tar', ['-xzf', tgz, '-C', unpacked]);
    rmSync(join(unpacked, 'package', 'prebuilds', 'linux-x64'), { recursive: true, force: true });
    const noPrebuild = join(dir, name.replace(/\.tgz$/, '-no-linux-x64.tgz'));
    const repack = spawnSync('tar', ['-czf', noPrebuild, '-C', unpacked, 'package'], { encoding: 'utf8' });
    if (repack.status !== 0) throw new Error(`could not repack: ${repack.stderr}`);
    return { tgz, noPrebuild, files: list.stdout.split('\n').filter(Boolean), startedAt };
  })();
  return packed;
}

/** An empty project to install into. */
export function emptyProject(t: TestContext): string {
  const dir = tempDir(t, 'hypnode-project-');
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'an-app', version: '1.0.0', private: true }, null, 2)}\n`);
  return dir;
}

/** The installed CLI's main.js in a project. */
export function installedCli(project: string): string {
  return join(project, 'node_modules', 'hypnode', 'dist', 'src', 'cli', 'main.js');
}

/** `hypnode ARGS` from an installed copy, on this process's Node. */
export function runInstalled(cliPath: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const clean = { ...process.env, ...env };
  delete clean.NOTIFY_SOCKET;
  return run(process.execPath, [cliPath, ...args], { env: clean, timeoutMs: 120_000 });
}

/** The shared objects a process has mapped: which addon file it really loaded. */
export function mappedFiles(pid: number): string[] {
  try {
    return [...new Set(readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n').map((l) => l.split(/\s+/).slice(5).join(' ')).filter((f) => f.startsWith('/')))];
  } catch {
    return [];
  }
}

/** A manager started from an installed copy; stopped, with its workers, when the test ends. */
export class InstalledManager {
  output = '';
  exitCode: number | null = null;
  readonly exited: Promise<number | null>;
  readonly seen = new Set<number>();
  readonly proc: ChildProcess;

  constructor(
    t: TestContext,
    readonly cli: string,
    readonly app: string,
    args: string[],
    readonly env: Record<string, string>,
  ) {
    const clean = { ...process.env, ...env };
    delete clean.NOTIFY_SOCKET;
    this.proc = spawn(process.execPath, [cli, 'start', app, ...args], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.proc.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve((this.exitCode = code))));
    t.after(() => this.cleanup());
  }

  get pid(): number {
    return this.proc.pid!;
  }

  cliRun(command: string, ...args: string[]): Promise<CliResult> {
    return runInstalled(this.cli, [command, this.app, ...args], this.env);
  }

  async status(): Promise<Status | null> {
    const r = await this.cliRun('status', '--json');
    if (r.code !== 0) return null;
    const s = JSON.parse(r.stdout) as Status;
    for (const w of s.workers) this.seen.add(w.pid);
    return s;
  }

  waitServing(): Promise<Status> {
    return waitFor('the installed hypnode to serve', async () => {
      if (this.exitCode !== null) throw new Error(`hypnode exited with ${this.exitCode} before serving:\n${this.output}`);
      const s = await this.status();
      return s && s.state === 'serving' && s.workersReady === s.workersWanted ? s : null;
    }, 20_000, 100);
  }

  async cleanup(): Promise<void> {
    if (this.exitCode === null) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    for (const pid of this.seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
}
