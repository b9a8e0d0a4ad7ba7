import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeBinary, nodeVersion } from './node-lines.js';
import { systemd254 } from './systemd-backports.js';
import { quickTier, restTier } from './test-tiers.js';

// After the build:
//   `npm test`                 the unit tests and the quick end-to-end files (tools/test-tiers.ts),
//                              two files at a time, on this machine's Node
//   `npm run test:full`        the same, then every other file one at a time, then the suites that
//                              lean hardest on Node itself (processes, signals, sockets, the addon,
//                              systemd: reload, faults, systemd, install) on each other supported
//                              release line, with Node binaries from the npm registry (node-lines.ts)
//   `... test:full -- --skip-quick`   all but the quick tier (CI, right after `npm test`)
// Every run goes on even when one fails; the exit code is 1 when any did, and the last line adds
// them all up.
//
//   HYPNODE_TEST_NODE_LINES=22,24   the other lines (default); empty: this machine's Node only

const TEST_DIR = fileURLToPath(new URL('../test/', import.meta.url));
const DIST_DIR = fileURLToPath(new URL('../', import.meta.url));
const LINE_SUITES = /^(reload(-http2)?|ready|upgrade|faults(-[a-z]+)?|systemd(-[a-z]+)?|install)\.test\.js$/;
/** Files run at once in the quick tier: its files measure no load, and two keep both cores busy. */
const QUICK_CONCURRENCY = 2;

interface Counts {
  pass: number;
  fail: number;
  skipped: number;
  cancelled: number;
  todo: number;
}

interface Run {
  label: string;
  counts: Counts | null;
  code: number | null;
  seconds: number;
}

function run(label: string, node: string, files: string[], concurrency = 1): Promise<Run> {
  const started = performance.now();
  console.log(`\n# ${label}: ${node} --test --test-concurrency=${concurrency} ${files.length === 1 ? files[0] : `(${files.length} files)`}`);
  return new Promise((resolve) => {
    const child = spawn(node, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: ['ignore', 'pipe', 'inherit'] });
    let tail = '';
    child.stdout.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-8192);
    });
    child.on('error', (err) => {
      console.log(`# ${label}: could not run ${node}: ${err.message}`);
      resolve({ label, counts: null, code: null, seconds: 0 });
    });
    child.on('close', (code) => resolve({ label, counts: counts(tail), code, seconds: (performance.now() - started) / 1000 }));
  });
}

// The runner's closing summary: "ℹ pass 41" (spec reporter) or "# pass 41" (TAP, when not a tty).
function counts(output: string): Counts | null {
  const get = (key: string): number | null => {
    const all = [...output.matchAll(new RegExp(`^[#ℹ] ${key} (\\d+)\\s*$`, 'gm'))];
    return all.length ? Number(all.at(-1)![1]) : null;
  };
  const pass = get('pass');
  const fail = get('fail');
  if (pass === null || fail === null) return null;
  return { pass, fail, skipped: get('skipped') ?? 0, cancelled: get('cancelled') ?? 0, todo: get('todo') ?? 0 };
}

/**
 * The processes running this checkout's hypnode (a manager, a worker's preload): a test that
 * leaves one behind (a daemon it forgot to stop) fails the run, by pid and command line.
 */
function hypnodeProcesses(): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmdline.includes(join(DIST_DIR, 'src/'))) found.set(Number(entry), cmdline);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

async function main(args: string[]): Promise<number> {
  const unknown = args.filter((a) => a !== '--full' && a !== '--skip-quick');
  if (unknown.length) {
    console.error(`test-matrix: unknown argument ${unknown[0]} (known: --full, --skip-quick)`);
    return 2;
  }
  const full = args.includes('--full');
  const runs: Run[] = [];
  const before = hypnodeProcesses();
  const own = Number(process.versions.node.split('.')[0]);
  const lines = (process.env.HYPNODE_TEST_NODE_LINES ?? '22,24').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  // Fetched first, in the quick tier too: the upgrade tests move the manager onto another line
  // (and, in the full run, onto systemd 254).
  const nodes = new Map<number, string | Error>();
  for (const major of lines) {
    if (major === own) continue;
    try {
      nodes.set(major, nodeBinary(major));
    } catch (err) {
      nodes.set(major, err as Error);
    }
  }
  if (full) {
    try {
      systemd254();
    } catch (err) {
      console.log(`# systemd 254: could not get it (its tests will skip): ${(err as Error).message}`);
    }
  }
  if (!args.includes('--skip-quick')) runs.push(await run(`Node ${process.version} (this machine's): the quick tier`, process.execPath, quickTier(TEST_DIR), QUICK_CONCURRENCY));
  if (full) runs.push(await run(`Node ${process.version} (this machine's): the rest`, process.execPath, restTier(TEST_DIR)));

  const files = readdirSync(TEST_DIR).filter((f) => LINE_SUITES.test(f)).sort().map((f) => join(TEST_DIR, f));
  for (const [major, node] of full ? nodes : []) {
    if (node instanceof Error) {
      console.log(`\n# Node ${major}: could not get it: ${node.message}`);
      runs.push({ label: `Node ${major}`, counts: null, code: null, seconds: 0 });
      continue;
    }
    runs.push(await run(`Node ${nodeVersion(node)}: ${files.map((f) => f.slice(TEST_DIR.length)).join(' ')}`, node, files));
  }

  const total: Counts = { pass: 0, fail: 0, skipped: 0, cancelled: 0, todo: 0 };
  let failed = false;
  console.log('\n# test matrix');
  for (const r of runs) {
    const ok = r.code === 0 && r.counts !== null && r.counts.fail === 0 && r.counts.cancelled === 0;
    failed ||= !ok;
    if (r.counts) for (const key of Object.keys(total) as (keyof Counts)[]) total[key] += r.counts[key];
    // A run that died without a summary counts as one failure.
    else total.fail += 1;
    const c = r.counts;
    console.log(`#   ${ok ? 'ok  ' : 'FAIL'} ${r.label.split(':')[0]}: ${c ? `${c.pass} passed, ${c.fail} failed, ${c.skipped} skipped${c.cancelled ? `, ${c.cancelled} cancelled` : ''}` : `no summary (exit ${r.code})`} in ${r.seconds.toFixed(0)} s`);
  }
  // A moment for the last stops to finish, then whatever is left was leaked by a test.
  await new Promise((r) => setTimeout(r, 2000));
  const leaked = [...hypnodeProcesses()].filter(([pid]) => !before.has(pid));
  if (leaked.length) {
    failed = true;
    console.log(`#   FAIL processes left running by the tests:`);
    for (const [pid, cmdline] of leaked) console.log(`#        ${pid} ${cmdline.slice(0, 160)}`);
  }
  // Cancelled tests (a file that crashed, a timeout) are failures too.
  console.log(`total: ${total.pass} passed, ${total.fail + total.cancelled} failed, ${total.skipped} skipped`);
  return failed ? 1 : 0;
}

process.exit(await main(process.argv.slice(2)));
