import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, relative } from 'node:path';
import type { TestContext } from 'node:test';
import { startLoad, type LoadResult } from '../../tools/load.js';
import { builtExample } from '../../tools/frameworks.js';
import { REPO } from './examples.js';
import { freePort, startHypnode, tempDir, type Hypnode } from './hypnode.js';
import type { Deploy } from './reload-under-load.js';

// A real-framework example as a deploy: a copy of its built files in a temp directory of the
// test's own (a broken-deploy test edits them freely), its node_modules linked entry by entry to
// the cached install (hundreds of MB, never written to) plus `hypnode` linked to this checkout.
// The version is the APP_VERSION that the copy's hypnode config file gives the workers: the
// config file is read again on every reload, so a deploy needs no rebuild.

export interface FrameworkSpec {
  /** The example, examples/NAME. */
  name: string;
  /** The directory inside the built example that is deployed (default: all of it). */
  root?: string;
  /** The app file hypnode starts, relative to the deployed directory. */
  app: string;
  /** Arguments for the app (after `--`). */
  args?: (dir: string, port: number) => string[];
  /** Environment for the workers besides APP_VERSION: where to listen. */
  env?: (port: number) => Record<string, string>;
}

export interface Framework {
  h: Hypnode;
  port: number;
  /** The deployed copy. */
  dir: string;
  /** Deploys `version` (the next reload's workers get it). */
  deploy: Deploy;
}

/** Left out of a deploy: the install (linked instead), build caches, the cache's own marker. */
const NOT_DEPLOYED = new Set(['node_modules', '.next/cache', '.svelte-kit', '.hypnode-built.json']);

export async function startFramework(t: TestContext, spec: FrameworkSpec): Promise<Framework> {
  const built = await builtExample(spec.name, (line) => t.diagnostic(line));
  const dir = tempDir(t, `hypnode-${spec.name}-`);
  deployBuilt(join(built.dir, spec.root ?? '.'), dir, 'linked');

  const port = await freePort();
  const config = join(dir, 'hypnode.config.json');
  const deploy = (version: string) => writeFileSync(config, JSON.stringify({ env: { ...spec.env?.(port), APP_VERSION: version } }));
  deploy('1');
  const args = spec.args ? ['--', ...spec.args(dir, port)] : [];
  // Frameworks take seconds to load on a busy 2-core machine: the first start gets time for it.
  const h = await startHypnode(t, join(dir, spec.app), ['--workers', '2', '--config', config, ...args], { wait: false });
  await h.waitServing(60_000);
  return { h, port, dir, deploy };
}

/**
 * Copies a built example's files from `from` into `dir`, as a deploy. Its install is `linked`
 * entry by entry to the cache (plus `hypnode`, linked to this checkout), or `production`: the
 * packages that `npm ci --omit=dev` installs, copied (a unit's ProtectHome= hides a cache under
 * /root, and a deploy ships no build tools).
 */
export function deployBuilt(from: string, dir: string, install: 'linked' | 'production'): void {
  cpSync(from, dir, { recursive: true, filter: (path) => !NOT_DEPLOYED.has(relative(from, path)) });
  mkdirSync(join(dir, 'node_modules'));
  if (install === 'linked') {
    for (const entry of readdirSync(join(from, 'node_modules'))) symlinkSync(join(from, 'node_modules', entry), join(dir, 'node_modules', entry));
    symlinkSync(REPO, join(dir, 'node_modules', 'hypnode'), 'dir');
    return;
  }
  const lock = JSON.parse(readFileSync(join(from, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  for (const [path, pkg] of Object.entries(lock.packages)) {
    // A nested package comes with the one it is nested in.
    if (!pkg.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path)) cpSync(join(from, path), join(dir, path), { recursive: true, verbatimSymlinks: true });
  }
  const bin = join(dir, 'node_modules', '.bin');
  mkdirSync(bin);
  for (const name of readdirSync(join(from, 'node_modules', '.bin'))) {
    const target = readlinkSync(join(from, 'node_modules', '.bin', name));
    if (existsSync(join(bin, target))) symlinkSync(target, join(bin, name));
  }
}

/** Changes a file of the deploy with `edit` (which must change it); returns a function that restores it. */
export function editFile(path: string, edit: (text: string) => string): () => void {
  const original = readFileSync(path, 'utf8');
  const changed = edit(original);
  assert.notEqual(changed, original, `the edit of ${path} changed nothing`);
  writeFileSync(path, changed);
  return () => writeFileSync(path, original);
}

export interface Answer {
  status: number;
  version: string | null;
  pid: string | null;
  body: string;
}

/** One GET on a connection of its own. */
export function get(port: number, path = '/'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          const [version, pid] = [res.headers['x-version'], res.headers['x-pid']];
          resolve({ status: res.statusCode ?? 0, version: typeof version === 'string' ? version : null, pid: typeof pid === 'string' ? pid : null, body });
        });
      })
      .on('error', reject);
  });
}

export interface BrokenDeploy {
  /** Puts the broken code on disk; returns a function that puts the good code back. */
  breakIt: () => () => void;
  /** The broken code's own error, which each refused reload must print. */
  error: RegExp;
  /** Reloads of the broken code, each of which must be refused (default 1). */
  attempts?: number;
}

/**
 * Deploys broken code as version `next` while a bounded load runs: every reload of it must fail
 * (exit 1) printing the code's own error, while the old version answers every request and the
 * manager serves on with every worker ready. Then the good code, still version `next`, reloads.
 */
export async function brokenDeployUnderLoad(fw: Framework, next: string, broken: BrokenDeploy, t: TestContext): Promise<LoadResult> {
  const { h, port } = fw;
  const before = await h.status();
  const old = (await get(port)).version;
  assert.ok(old, 'the app answers with its version');
  const restore = broken.breakIt();
  fw.deploy(next);
  const load = startLoad({ port, durationMs: 180_000, maxRequests: 100_000, keepAliveClients: 2, newConnectionClients: 2, slowEvery: 20 });
  try {
    // The load runs before and after the reloads too: a refusal must not disturb either side.
    await new Promise((r) => setTimeout(r, 300));
    const attempts = broken.attempts ?? 1;
    for (let i = 1; i <= attempts; i++) {
      const started = Date.now();
      const r = await h.cli('reload');
      const output = r.stdout + r.stderr;
      t.diagnostic(`broken reload ${i}/${attempts}: exit ${r.code} after ${Date.now() - started} ms`);
      assert.equal(r.code, 1, `broken reload ${i}/${attempts} must fail:\n${output}`);
      assert.match(output, broken.error, `broken reload ${i}/${attempts} prints the new code's own error`);
      const answer = await get(port);
      assert.deepEqual([answer.status, answer.version], [200, old], `after broken reload ${i}/${attempts} the old code answers`);
      const s = await h.status();
      assert.equal(s.state, 'serving');
      assert.equal(s.generation, before.generation, 'a refused reload leaves the generation that served');
      assert.equal(s.workersReady, s.workersWanted, `after broken reload ${i}/${attempts} every worker is ready: ${JSON.stringify(s.workers)}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    await load.stop();
  }
  const result = await load.done;
  t.diagnostic(`load while refused: ${result.total} requests, ${result.failed} failed, versions ${JSON.stringify(result.versions)}`);
  assert.deepEqual(result.failures, {}, 'no request fails while broken code is refused');
  assert.ok(result.total > 20, `the load ran (${result.total} requests)`);
  assert.deepEqual(Object.keys(result.versions), [old], 'only the old code answered');

  restore();
  const r = await h.cli('reload');
  assert.equal(r.code, 0, `the good code reloads after the broken:\n${r.stdout}${r.stderr}`);
  assert.equal((await get(port)).version, next);
  return result;
}
