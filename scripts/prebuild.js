#!/usr/bin/env node
// @ts-check
// `npm run prebuild` (and `prepack`): builds the prebuilt addons the npm package carries, on an
// x64 Linux machine, into prebuilds/<platform>-<arch>/hypnode.<libc>.node, the names
// node-gyp-build looks for (a `napi` build carries no ABI tag; the libc tag is what tells glibc
// and musl apart).
//
//   linux-x64   glibc  gcc (x86_64-linux-gnu)          apt: gcc libc6-dev
//   linux-arm64 glibc  aarch64-linux-gnu-gcc           apt: gcc-aarch64-linux-gnu libc6-dev-arm64-cross
//   linux-x64   musl   musl-gcc                        apt: musl-tools
//
// The addon is one C file that needs only Node-API's headers, so the compilers are called
// directly: node-gyp (and prebuildify, which drives it) would fetch Node's headers over the
// network for a --target, and cross-compiling through gyp needs CC/LINK overrides anyway. The
// flags follow binding.gyp (which builds from source on a user's machine): keep the two in step.
// Node-API version 8 makes one binary serve every Node from 12.22 on.
//
// Each result is checked before it is kept: its ELF machine, the libraries it needs (libc alone),
// that it exports napi_register_module_v1, and, for glibc, that no symbol needs a glibc above
// 2.28, the oldest that official Node 20, 22 and 24 builds run on.
//
//   node scripts/prebuild.js [--all] [--check] [TARGET...]
//     TARGET: linux-x64-glibc, linux-arm64-glibc, linux-x64-musl (default: all three)
//     --all: fail when a target's compiler is missing (prepack: a package must carry all three);
//       without it such a target is skipped with a note, since npm also runs `prebuild` before
//       every `npm run build` and a developer may lack a cross compiler
//     --check: build nothing, only check the prebuilds that are there (exit 1 if one fails)
//   HYPNODE_NODE_HEADERS=DIR: where node_api.h is (default: the running Node's include/node)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = join(ROOT, 'native', 'hypnode_native.c');
const GLIBC_COMPAT = join(ROOT, 'native', 'glibc-compat.h');
/** Official Node 18 to 24 Linux builds need glibc 2.28; a prebuild must ask no more. */
export const MAX_GLIBC = '2.28';

/**
 * @typedef {{ name: string, dir: string, libc: 'glibc' | 'musl', compilers: string[],
 *   triple: RegExp, machine: string, needed: RegExp, apt: string }} Target
 * @type {Target[]}
 */
export const TARGETS = [
  {
    name: 'linux-x64-glibc',
    dir: 'linux-x64',
    libc: 'glibc',
    compilers: ['x86_64-linux-gnu-gcc', 'gcc', 'cc'],
    triple: /^x86_64-(pc-|unknown-)?linux-gnu$/,
    machine: 'Advanced Micro Devices X86-64',
    needed: /^libc\.so\.6$/,
    apt: 'gcc libc6-dev',
  },
  {
    name: 'linux-arm64-glibc',
    dir: 'linux-arm64',
    libc: 'glibc',
    compilers: ['aarch64-linux-gnu-gcc'],
    triple: /^aarch64-(unknown-)?linux-gnu$/,
    machine: 'AArch64',
    // __stack_chk_guard lives in the dynamic loader on aarch64.
    needed: /^(libc\.so\.6|ld-linux-aarch64\.so\.1)$/,
    apt: 'gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
  },
  {
    name: 'linux-x64-musl',
    dir: 'linux-x64',
    libc: 'musl',
    compilers: ['musl-gcc'],
    // musl-gcc is a wrapper around the host gcc with musl's headers and libc.
    triple: /^x86_64-(pc-|unknown-)?linux-gnu$/,
    machine: 'Advanced Micro Devices X86-64',
    needed: /^libc\.so$/,
    apt: 'musl-tools',
  },
];

/** @param {Target} target */
export function prebuildPath(target) {
  return join(ROOT, 'prebuilds', target.dir, `hypnode.${target.libc}.node`);
}

function main() {
  const args = process.argv.slice(2);
  const checkOnly = args.includes('--check');
  const all = args.includes('--all');
  const names = args.filter((a) => !a.startsWith('--'));
  for (const name of names) {
    if (!TARGETS.some((t) => t.name === name)) fail(`unknown target ${name} (known: ${TARGETS.map((t) => t.name).join(', ')})`);
  }
  const targets = names.length > 0 ? TARGETS.filter((t) => names.includes(t.name)) : TARGETS;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    // `npm run build` runs this too: elsewhere it must not stand in the way.
    const why = `the prebuilds are made on x64 Linux (this is ${process.platform}-${process.arch})`;
    if (all || checkOnly) fail(why);
    console.log(`prebuild: skipped: ${why}`);
    return;
  }

  const problems = [];
  for (const target of targets) {
    const started = performance.now();
    const file = prebuildPath(target);
    if (!checkOnly) {
      const cc = compilerFor(target);
      if (!cc) {
        const missing = `${target.name}: no compiler for it (tried ${target.compilers.join(', ')}); on Debian or Ubuntu: apt-get install ${target.apt}`;
        if (all) problems.push(missing);
        else console.log(`prebuild: skipped ${missing}`);
        continue;
      }
      build(target, cc, file);
    } else if (!existsSync(file)) {
      problems.push(`${target.name}: ${relative(ROOT, file)} is missing`);
      continue;
    }
    const found = check(target, file);
    problems.push(...found.map((p) => `${target.name}: ${p}`));
    const ms = Math.round(performance.now() - started);
    console.log(`prebuild: ${found.length ? 'BAD' : 'ok '} ${target.name.padEnd(17)} ${relative(ROOT, file)}${checkOnly ? '' : ` (${ms} ms)`}`);
  }
  if (problems.length > 0) fail(problems.join('\n'));
}

/** @param {Target} target @param {string} cc @param {string} file */
function build(target, cc, file) {
  const headers = nodeHeaders();
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const flags = [
    ...(target.libc === 'glibc' ? ['-include', GLIBC_COMPAT] : []),
    '-std=gnu11', '-O2', '-fPIC', '-shared', '-pthread',
    '-fvisibility=hidden', '-fstack-protector-strong', '-D_FORTIFY_SOURCE=2',
    '-Wall', '-Wextra',
    '-DNAPI_VERSION=8', '-D_GNU_SOURCE', '-DBUILDING_NODE_EXTENSION',
    // The same bytes from any checkout: no build path in the binary.
    `-ffile-prefix-map=${ROOT}=.`,
    '-isystem', headers,
    '-Wl,-z,relro,-z,now,-z,noexecstack', '-s',
    SOURCE, '-o', tmp,
  ];
  const r = spawnSync(cc, flags, { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    fail(`${target.name}: ${cc} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
  }
  renameSync(tmp, file);
}

/** The first of the target's compilers that is there and builds for it. @param {Target} target */
function compilerFor(target) {
  for (const cc of target.compilers) {
    const r = spawnSync(cc, ['-dumpmachine'], { encoding: 'utf8' });
    if (r.status === 0 && target.triple.test(r.stdout.trim())) return cc;
  }
  return null;
}

function nodeHeaders() {
  const candidates = [
    process.env.HYPNODE_NODE_HEADERS,
    join(dirname(process.execPath), '..', 'include', 'node'),
    process.env.npm_config_nodedir && join(process.env.npm_config_nodedir, 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter((d) => typeof d === 'string' && d !== '');
  const found = candidates.find((d) => existsSync(join(/** @type {string} */ (d), 'node_api.h')));
  return found ?? fail(`no Node-API headers (node_api.h) in ${candidates.join(', ')}: set HYPNODE_NODE_HEADERS to a Node's include/node`);
}

/**
 * What is wrong with a built addon, by readelf and objdump (binutils reads any architecture).
 * @param {Target} target @param {string} file @returns {string[]}
 */
export function check(target, file) {
  const problems = [];
  const header = execFileSync('readelf', ['-h', file], { encoding: 'utf8' });
  const machine = /Machine:\s+(.*)/.exec(header)?.[1]?.trim();
  if (machine !== target.machine) problems.push(`machine is ${machine}, not ${target.machine}`);
  if (!/Type:\s+DYN/.test(header)) problems.push('not a shared object');
  const dynamic = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.*)\]/g)].map((m) => m[1] ?? '');
  if (!needed.some((n) => /^libc\.so/.test(n))) problems.push(`does not link libc (needs: ${needed.join(', ') || 'nothing'})`);
  for (const n of needed) if (!target.needed.test(n)) problems.push(`needs ${n}, which a ${target.libc} system may not have`);
  const symbols = execFileSync('objdump', ['-T', file], { encoding: 'utf8' });
  if (!/\bnapi_register_module_v1\b/.test(symbols.split('\n').filter((l) => !l.includes('*UND*')).join('\n'))) {
    problems.push('does not export napi_register_module_v1');
  }
  const versions = [...symbols.matchAll(/\(?GLIBC_(\d+(?:\.\d+)*)\)?/g)].map((m) => m[1] ?? '');
  if (target.libc === 'musl' && versions.length > 0) problems.push(`asks for glibc symbol versions (${[...new Set(versions)].join(', ')})`);
  if (target.libc === 'glibc') {
    const newest = versions.sort(compareVersions).at(-1);
    if (newest && compareVersions(newest, MAX_GLIBC) > 0) {
      const which = symbols.split('\n').filter((l) => l.includes(`GLIBC_${newest}`)).map((l) => l.trim().split(/\s+/).at(-1));
      problems.push(`needs glibc ${newest} (for ${which.join(', ')}); official Node builds run on ${MAX_GLIBC}`);
    }
  }
  return problems;
}

/** @param {string} a @param {string} b */
function compareVersions(a, b) {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
