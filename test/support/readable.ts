import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The tests that act as another user (runuser, spawn with uid) run hypnode as that user. From a
// checkout inside a directory only its owner may enter (root's 0700 home, say), or with a Node
// binary kept there, that user could not even load the CLI. Then a world-readable copy of what
// `hypnode` needs at run time is made once per test process, in the temp directory: the built
// dist/src, package.json, binding.gyp, the native addon (a build from source, or the prebuilds),
// the runtime dependencies, and the Node binary when that is out of reach too. Removed at exit.

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI_IN_ROOT = join('dist', 'src', 'cli', 'main.js');

export interface Runnable {
  /** The Node binary to run, readable and executable by any user. */
  node: string;
  /** The CLI's main.js, readable by any user. */
  cli: string;
  /** The file: URL of that copy's dist/src/index.js, for apps that import hypnode. */
  index: string;
}

/** The file: URL of the checkout's own dist/src/index.js. */
export const CHECKOUT_INDEX = pathToFileURL(join(ROOT, 'dist', 'src', 'index.js')).href;

let runnable: Runnable | undefined;

/** Whether `user` can run `node [args]` (exit 0). */
export function canRun(user: string, node: string, args: string[]): boolean {
  return spawnSync('runuser', ['-u', user, '--', node, ...args], { stdio: 'ignore', cwd: '/', timeout: 30_000 }).status === 0;
}

/**
 * A Node binary and the hypnode CLI that other users can run: this process's own when they
 * already can, otherwise copies (see above). Needs root (runuser), as the tests that use it do.
 */
export function runnableByOthers(user = 'nobody'): Runnable {
  if (runnable) return runnable;
  const node = process.execPath;
  const cli = join(ROOT, CLI_IN_ROOT);
  if (canRun(user, node, [cli, '--version'])) return (runnable = { node, cli, index: CHECKOUT_INDEX });

  const dir = mkdtempSync(join(tmpdir(), 'hypnode-readable-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const copied = copyRuntime(dir, canRun(user, node, ['-e', '0']) ? node : null);
  if (!canRun(user, copied.node, [copied.cli, '--version'])) throw new Error(`${user} cannot run the readable copy of hypnode in ${dir} either`);
  return (runnable = copied);
}

/**
 * Copies what `hypnode` needs at run time into `dir` (made readable by all): dist/src,
 * package.json, binding.gyp, the native addon, the runtime dependencies, and `node`'s binary
 * unless `keepNode` names one to use as it is. The copy is readable by any user.
 */
export function copyRuntime(dir: string, keepNode: string | null, node = process.execPath): Runnable {
  chmodSync(dir, 0o755);
  let bin = keepNode;
  if (bin === null) {
    bin = join(dir, 'node');
    copyFileSync(node, bin);
    chmodSync(bin, 0o755);
  }
  const pkg = join(dir, 'hypnode');
  cpSync(join(ROOT, 'dist', 'src'), join(pkg, 'dist', 'src'), { recursive: true, filter: (src) => !/\.(map|d\.ts)$/.test(src) });
  for (const file of ['package.json', 'binding.gyp']) copyFileSync(join(ROOT, file), join(pkg, file));
  for (const addon of [join('build', 'Release', 'hypnode_native.node'), 'prebuilds']) {
    if (existsSync(join(ROOT, addon))) cpSync(join(ROOT, addon), join(pkg, addon), { recursive: true });
  }
  copyDependencies(ROOT, pkg, new Set());
  // cpSync keeps the modes of the originals, which are readable by all in a checkout: what kept
  // other users out was only the directory above it.
  return { node: bin, cli: join(pkg, CLI_IN_ROOT), index: pathToFileURL(join(pkg, 'dist', 'src', 'index.js')).href };
}

/** Copies the runtime dependencies of the package in `from`, and theirs, into `to`/node_modules. */
function copyDependencies(from: string, to: string, done: Set<string>): void {
  const manifest = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (done.has(name)) continue;
    done.add(name);
    const source = installedAt(from, name);
    const target = join(to, 'node_modules', name);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(source, target, { recursive: true });
    copyDependencies(source, to, done);
  }
}

/** Where Node's resolution finds package `name` from `dir`: the nearest node_modules/name above. */
function installedAt(dir: string, name: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(d) === d) throw new Error(`dependency ${name} of ${dir} is not installed`);
  }
}
