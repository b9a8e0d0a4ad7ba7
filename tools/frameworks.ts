import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// The real-framework examples (each examples/NAME with a package-lock.json: Next.js, NestJS,
// SvelteKit, React Router, socket.io) are too heavy to install with the repository: several
// hundred MB and a build each. So each is installed (`npm ci`) and built (its own `npm run
// build`) once, in a cache outside the checkout keyed by everything that makes it: its files,
// this Node, this platform.
// A key that matches is reused; a new one is built beside it, and keys unused for a week go.
// The tests copy a built app out of the cache, so the cache itself is never changed by a test.
//
// `node dist/tools/frameworks.js [NAME...]` fills the cache ahead of the tests.

const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));
/** Raise to rebuild every cached example when the way they are built changes. */
const RECIPE = 1;
/** Build outputs and installs that a developer may have made inside examples/NAME: not sources. */
const NOT_SOURCES = new Set(['node_modules', '.next', '.svelte-kit', '.react-router', 'build']);
const MARKER = '.hypnode-built.json';
const UNUSED_FOR = 7 * 24 * 3600_000;
const STAGING_ABANDONED_AFTER = 3600_000;

export interface BuiltExample {
  name: string;
  /** The installed and built example, to be copied, never changed. */
  dir: string;
  /** Seconds spent by `npm ci` and the build when this key was made. */
  installSeconds: number;
  buildSeconds: number;
  /** Whether this call made it (false: reused from the cache). */
  fresh: boolean;
}

export function frameworkExamples(): string[] {
  return readdirSync(EXAMPLES)
    .filter((name) => existsSync(join(EXAMPLES, name, 'package-lock.json')))
    .sort();
}

export function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'hypnode-test', 'frameworks');
}

/** The example installed and built, from the cache or made now (minutes, the first time). */
export async function builtExample(name: string, log: (line: string) => void = () => {}): Promise<BuiltExample> {
  const source = join(EXAMPLES, name);
  const root = cacheRoot();
  const dir = cachedDir(name);
  const marker = join(dir, MARKER);
  if (existsSync(marker)) {
    const now = new Date();
    utimesSync(marker, now, now);
    return { name, dir, ...(JSON.parse(readFileSync(marker, 'utf8')) as Pick<BuiltExample, 'installSeconds' | 'buildSeconds'>), fresh: false };
  }

  // Built under a name of its own and renamed into place when complete: a run that is killed
  // leaves no half-built entry, and two runs building at once (two checkouts) both end well.
  mkdirSync(root, { recursive: true });
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    cpSync(source, staging, { recursive: true, filter: (path) => !NOT_SOURCES.has(relative(source, path).split('/')[0]!) });
    const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
    let started = Date.now();
    log(`${name}: npm ci in ${staging}`);
    await npm(['ci', '--no-audit', '--no-fund'], staging, env);
    const installSeconds = (Date.now() - started) / 1000;
    started = Date.now();
    const pkg = JSON.parse(readFileSync(join(staging, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    if (pkg.scripts?.build) {
      log(`${name}: npm run build`);
      await npm(['run', 'build'], staging, env);
    }
    const buildSeconds = (Date.now() - started) / 1000;
    writeFileSync(join(staging, MARKER), JSON.stringify({ installSeconds, buildSeconds }));
    try {
      renameSync(staging, dir);
    } catch (err) {
      if (!existsSync(marker)) throw err;
      // Another run finished the same key first: use its copy.
    }
    log(`${name}: installed in ${installSeconds.toFixed(1)} s, built in ${buildSeconds.toFixed(1)} s`);
    prune(root, name, dir);
    return { name, dir, installSeconds, buildSeconds, fresh: true };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Why builtExample(name) cannot succeed here, for a test to skip with; null when it can: the
 * example is in the cache already, or npm reaches its registry (`npm ping`) to install it.
 */
export async function cannotBuild(name: string): Promise<string | null> {
  if (existsSync(join(cachedDir(name), MARKER))) return null;
  try {
    await npm(['ping', '--fetch-retries=0', '--fetch-timeout=30000'], EXAMPLES, process.env);
    return null;
  } catch (err) {
    // npm's own words for it: the error code and the failed request, without the stack.
    const said = (err as Error).message.split('\n').filter((line) => /^npm error (code |\w*Error: )/.test(line)).map((line) => line.slice('npm error '.length));
    return `examples/${name} is not installed in ${cacheRoot()} and npm cannot reach its registry to install it (${said.join('; ') || 'npm ping failed'}): run \`node dist/tools/frameworks.js ${name}\` where it can`;
  }
}

/** Where the cache keeps the example as its files are now. */
function cachedDir(name: string): string {
  const source = join(EXAMPLES, name);
  if (!existsSync(join(source, 'package-lock.json'))) throw new Error(`examples/${name} has no package-lock.json: not a framework example`);
  return join(cacheRoot(), `${name}-${cacheKey(source)}`);
}

/** Everything the install and build depend on: the example's files, Node, the platform, the recipe. */
function cacheKey(source: string): string {
  const hash = createHash('sha256');
  hash.update(`recipe ${RECIPE}\0node ${process.version}\0${process.platform}-${process.arch}\0`);
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (dir === source && NOT_SOURCES.has(entry.name)) continue;
      if (entry.isDirectory()) walk(path);
      else hash.update(`${relative(source, path)}\0`).update(readFileSync(path)).update('\0');
    }
  };
  walk(source);
  return hash.digest('hex').slice(0, 16);
}

/** Removes this example's other keys that no run has used for a while, and leftovers of killed builds. */
function prune(root: string, name: string, keep: string): void {
  const ours = new RegExp(`^${name.replace(/[^\w]/g, '\\$&')}-[0-9a-f]{16}(\\.tmp-.*)?$`);
  for (const entry of readdirSync(root)) {
    const path = join(root, entry);
    const m = ours.exec(entry);
    if (path === keep || !m) continue;
    const used = existsSync(join(path, MARKER)) ? statSync(join(path, MARKER)).mtimeMs : statSync(path).mtimeMs;
    if (Date.now() - used > (m[1] ? STAGING_ABANDONED_AFTER : UNUSED_FOR)) rmSync(path, { recursive: true, force: true });
  }
}

/** npm as the one running this (npm test) would be, else the npm on PATH. */
function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  const cli = process.env.npm_execpath;
  const [file, argv] = cli && /\.[cm]?js$/.test(cli) ? [process.execPath, [cli, ...args]] : ['npm', args];
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`npm ${args.join(' ')} in ${cwd} exited with ${code}:\n${output}`))));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const names = process.argv.length > 2 ? process.argv.slice(2) : frameworkExamples();
  for (const name of names) {
    const started = Date.now();
    const built = await builtExample(name, (line) => console.log(line));
    console.log(`${name}: ${built.fresh ? 'made' : 'reused'} ${built.dir} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
}
