import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCacheDir } from './node-lines.js';

// systemd 254 (Type=notify-reload, which 252 ignores) for the tests, from Debian's
// bookworm-backports suite, unpacked beside the Node binaries (tools/node-lines.ts) without
// touching the machine's apt state or its systemd: apt runs on private lists, from a sources file
// made of the machine's own first Debian source with the suite changed, so no mirror is named
// here. The test harness binds its libraries over the machine's inside the sandbox's private
// mount namespace (test/support/sd-sandbox.sh, SD_ROOT).
//   <cache>/systemd254/lib/systemd/systemd, <cache>/systemd254/usr/lib/x86_64-linux-gnu/systemd/

const SOURCES = '/etc/apt/sources.list.d/debian.sources';

/** The unpacked tree, or null; nothing is fetched. */
export function cachedSystemd254(): string | null {
  const root = join(nodeCacheDir(), 'systemd254');
  return existsSync(join(root, 'lib', 'systemd', 'systemd')) ? root : null;
}

/** The unpacked tree, fetched when it is not cached yet (about 6 MB). Throws with apt's own error. */
export function systemd254(): string {
  const cached = cachedSystemd254();
  if (cached) return cached;
  if (process.arch !== 'x64') throw new Error('systemd 254 is fetched for x64 only');
  if (!existsSync(SOURCES)) throw new Error(`no ${SOURCES} to derive a bookworm-backports source from`);
  const cache = nodeCacheDir();
  mkdirSync(cache, { recursive: true });
  const work = mkdtempSync(join(cache, '.fetch-systemd254-'));
  try {
    for (const d of ['lists/partial', 'archives/partial', 'sources.list.d', 'debs', 'out']) mkdirSync(join(work, d), { recursive: true });
    const first = readFileSync(SOURCES, 'utf8').split(/\n\s*\n/)[0]!;
    writeFileSync(join(work, 'sources.list.d', 'backports.sources'), `${first.replace(/^Suites:.*$/m, 'Suites: bookworm-backports')}\n`);
    const apt = [
      '-o', 'Dir::Etc::SourceList=/dev/null', '-o', `Dir::Etc::SourceParts=${join(work, 'sources.list.d')}`,
      '-o', `Dir::State::Lists=${join(work, 'lists')}`, '-o', `Dir::Cache=${work}`, '-o', `Dir::Cache::archives=${join(work, 'archives')}`,
      '-o', 'APT::Sandbox::User=root', '-q',
    ];
    const run = (args: string[], cwd?: string) => {
      const r = spawnSync('apt-get', [...apt, ...args], { cwd, encoding: 'utf8', timeout: 600_000 });
      if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: ${r.error?.message ?? r.stderr.trim()}`);
    };
    run(['update']);
    // The manager and systemctl need libsystemd-core and libsystemd-shared, both in these two.
    run(['download', 'systemd/bookworm-backports', 'libsystemd-shared/bookworm-backports'], join(work, 'debs'));
    for (const deb of readdirSync(join(work, 'debs'))) {
      const x = spawnSync('dpkg', ['-x', join(work, 'debs', deb), join(work, 'out')], { encoding: 'utf8' });
      if (x.status !== 0) throw new Error(`dpkg -x ${deb} failed: ${x.stderr.trim()}`);
    }
    try {
      renameSync(join(work, 'out'), join(cache, 'systemd254'));
    } catch (err) {
      if (!cachedSystemd254()) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return cachedSystemd254()!;
}
