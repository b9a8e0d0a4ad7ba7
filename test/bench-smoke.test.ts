import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// The benchmark is a tool, not a test: CI only checks that a short run completes and prints its
// tables. Its figures are never judged here.

const RUN = fileURLToPath(new URL('../bench/run.js', import.meta.url));
const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));
const hasWrk = (await new Promise<number | null>((resolve) => spawn('wrk', ['--version']).on('error', () => resolve(null)).on('exit', resolve))) !== null;

test('npm run bench -- --quick completes, prints the tables (the CPU-bound section too) and draws the reload charts', { skip: hasWrk ? false : 'wrk is not installed (apt-get install wrk)' }, async () => {
  const began = Date.now();
  const child = spawn(process.execPath, [RUN, '--quick', '--only', 'node,cluster-none,hypnode,hypnode-admin,cpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, err.slice(-2000));
  assert.match(out, /^\| contender \| keep-alive req\/s/m);
  assert.match(out, /^\| hypnode \| \d+/m);
  assert.match(out, /^\| hypnode-admin \| \d+/m);
  // The manager's goals, each beside what it is measured against.
  assert.match(out, /^\| manager RSS, 2 workers idle \| \d+ MB \| cluster primary \d+ MB \| at most 45 MB \| (yes|no) \|$/m);
  assert.match(out, /^\| manager RSS with --admin \| \d+ MB \| without \d+ MB \| at most 5 MB more \| (yes|no) \|$/m);
  assert.match(out, /^\| start → first answer \| [\d.]+ m?s \| bare node [\d.]+ m?s \| at most bare node \+ 100 ms \| (yes|no) \|$/m);
  assert.match(out, /^### Reload under load/m);
  // The section's own rows, hypnode with and without balanced accept among them.
  assert.match(out, /^### A CPU-bound handler on 2 workers/m);
  for (const name of ['hypnode', 'hypnode-unbalanced']) for (const connections of [4, 8]) assert.match(out, new RegExp(`^\\| 2 \\| ${connections} \\| ${name} \\| \\d+/\\d+ \\| \\d+ % \\|`, 'm'));
  assert.match(err, /^bench: /m, 'progress is shown while it runs');
  for (const file of ['reload-failures.svg', 'reload-timeline.svg']) {
    assert.match(out, new RegExp(`^!\\[[^\\]]+\\]\\(bench/results/${file}\\)$`, 'm'), `${file} is embedded in the tables`);
    assert.ok(statSync(RESULTS_DIR + file).mtimeMs >= began - 1000, `${file} was drawn by this run`);
    assert.match(readFileSync(RESULTS_DIR + file, 'utf8'), /^<svg [^>]+>[\s\S]*>hypnode<[\s\S]*<\/svg>\n$/, `${file} has a row for hypnode`);
  }
});
