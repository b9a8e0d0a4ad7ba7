#!/usr/bin/env node
// @ts-check
// hypnode's npm `install` script. It never fails the install (unless you ask for a build from
// source, which then must succeed):
//   1. a prebuilt addon that fits this machine (prebuilds/, shipped in the package) loads: done,
//      nothing is compiled;
//   2. otherwise build native/ from source with node-gyp (python3, make and a C compiler);
//   3. otherwise say, in one warning, what is missing and how to get it, and succeed: hypnode
//      runs without the addon (and says so again when it starts), except under systemd's
//      Type=notify, where it exits at once with the same advice.
// `npm install --build-from-source` (or npm_config_build_from_source=true) skips step 1.
// npm 11 may not run dependencies' install scripts at all (allowScripts): the runtime loader
// (src/native.ts, node-gyp-build) finds the prebuild by itself, so this script only matters for
// a source build.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const fromSource = process.env.npm_config_build_from_source === 'true' || process.argv.includes('--build-from-source');

/** Loads the addon as hypnode will, in a child process (a bad binary must not crash npm); its path or the error. */
function probe() {
  const code = `
    const { createRequire } = require('node:module');
    const root = process.argv[1];
    const load = createRequire(root + '/package.json')('node-gyp-build');
    const file = load.path(root);
    try { require(file); }
    catch (e) {
      const musl = file.replace(/\\.glibc\\.node$/, '.musl.node');
      if (musl === file || !require('node:fs').existsSync(musl)) throw e;
      require(musl);
      process.stdout.write(musl); process.exit(0);
    }
    process.stdout.write(file);`;
  const r = spawnSync(process.execPath, ['-e', code, ROOT], { encoding: 'utf8' });
  if (r.status === 0) return { ok: true, file: r.stdout.trim() };
  return { ok: false, error: (r.stderr.split('\n').find((l) => /Error/.test(l)) ?? r.stderr.trim()).slice(0, 300) };
}

function nodeGyp() {
  // npm tells its scripts where its own node-gyp is; otherwise one on PATH.
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && existsSync(bundled)) return /\.js$/.test(bundled) ? [process.execPath, bundled] : [bundled];
  return ['node-gyp'];
}

function main() {
  if (!fromSource) {
    const found = probe();
    if (found.ok) {
      console.log(`hypnode: using the native addon ${relative(ROOT, found.file ?? '')} (node ${process.version})`);
      return 0;
    }
  }
  const [command, ...args] = nodeGyp();
  const why = fromSource ? 'as asked' : existsSync(join(ROOT, 'prebuilds')) ? 'no prebuild fits this machine' : 'no prebuilds here (a checkout)';
  console.log(`hypnode: building the native addon from source, ${why} (node-gyp rebuild)`);
  const built = spawnSync(/** @type {string} */ (command), [...args, 'rebuild'], { cwd: ROOT, stdio: 'inherit' });
  const after = built.status === 0 ? probe() : { ok: false, error: built.error?.message ?? `node-gyp exited with ${built.status ?? built.signal}` };
  if (after.ok) {
    console.log(`hypnode: built ${relative(ROOT, after.file ?? '')} (node ${process.version})`);
    return 0;
  }
  // A half-made build/ must not shadow a prebuild that a later Node or system could use.
  rmSync(join(ROOT, 'build'), { recursive: true, force: true });
  const warning =
    `hypnode: WARNING: no native addon: no prebuild fits ${process.platform}-${process.arch} and building one from source failed (${after.error}). ` +
    'hypnode runs without it, with less protection, and refuses to start under systemd Type=notify. ' +
    'To build it, install python3, make and a C compiler (Debian/Ubuntu: apt-get install python3 make gcc; Alpine: apk add python3 make gcc musl-dev), then run `npm rebuild hypnode`.';
  console.error(warning);
  return fromSource ? 1 : 0;
}

process.exit(main());
