import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, exampleApp, freePort, startHypnode, waitFor } from './support/hypnode.js';

// Issue #6, point 5: `hypnode status` as a table, `--json` with exactly the fields the README
// documents, and a reload's progress made for a terminal.

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

/** The field paths the README's status table documents, such as `workers[].pid`. */
function documentedFields(): Set<string> {
  const section = /^### `hypnode status --json`$([\s\S]*?)^#/m.exec(readFileSync(README, 'utf8'));
  assert.ok(section, 'the README has a `hypnode status --json` section');
  return new Set([...section[1]!.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!));
}

function fieldPaths(value: unknown, prefix = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v) => fieldPaths(v, `${prefix}[]`));
  if (value === null || typeof value !== 'object') return [prefix];
  return Object.entries(value).flatMap(([k, v]) => [`${prefix ? `${prefix}.` : ''}${k}`, ...(v !== null && typeof v === 'object' ? fieldPaths(v, `${prefix ? `${prefix}.` : ''}${k}`) : [])]);
}

test('status: a table of workers, and --json fields exactly as documented', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const h = await startHypnode(t, app, ['--workers', '2', '--heartbeat-interval', '0.2'], { env: { PORT: String(await freePort()) } });
  const seen = new Set<string>();
  const first = await h.status();
  // A crash and a good reload fill lastCrash and lastReload; a failed reload shows the other kind.
  process.kill(first.workers[0]!.pid, 'SIGKILL');
  const crashed = await waitFor('the crash to show', async () => {
    const s = await h.status();
    return s.lastCrash ? s : null;
  });
  for (const p of fieldPaths(crashed)) seen.add(p);
  writeFileSync(join(dir, 'version.txt'), '2\n');
  assert.equal((await h.cli('reload')).code, 0);
  const afterReload = await waitFor('memory figures', async () => {
    const s = await h.status();
    return s.workers.every((w) => w.rss > 0) ? s : null;
  });
  for (const p of fieldPaths(afterReload)) seen.add(p);
  // phase in the code's names, state in the older spelling scripts match on.
  assert.deepEqual(afterReload.workers.map((w) => [w.phase, w.state]), [['serving', 'ready'], ['serving', 'ready']]);

  const table = await h.cli('status');
  assert.equal(table.code, 0);
  assert.match(table.stdout, /^generation {3}2, code loaded \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/m);
  assert.match(table.stdout, /^workers {6}2\/2 ready, [\d.]+ MiB resident in all$/m);
  assert.match(table.stdout, /^last reload {2}.*: ok, generation 2 in [\d.]+ s$/m);
  assert.match(table.stdout, /^GEN +SLOT +PID +STATE +UPTIME +REQUESTS +CONNS +RSS$/m);
  for (const w of afterReload.workers) assert.match(table.stdout, new RegExp(`^ +2 +${w.slot} +${w.pid} +ready +\\d+s +\\d+ +\\d+ +[\\d.]+ MiB$`, 'm'));

  // A batched reload that fails midway (slot 1 cannot start) leaves two generations serving. Its
  // crashes are retried until the ready timeout: a short one, though long enough for slot 0 to
  // start on a busy machine.
  const good = readFileSync(app, 'utf8');
  writeFileSync(join(dir, 'hypnode.config.json'), JSON.stringify({ reloadBatch: 1, readyTimeout: 5 }));
  writeFileSync(app, `if (process.env.HYPNODE_WORKER_INDEX === '1') throw new Error('slot 1 broken');\n${good}`);
  assert.equal((await h.cli('reload')).code, 1);
  for (const p of fieldPaths(await h.status())) seen.add(p);

  writeFileSync(app, "throw new Error('broken');\n");
  assert.equal((await h.cli('reload')).code, 1);
  for (const p of fieldPaths(await h.status())) seen.add(p);

  // An upgrade that fails, and one that succeeds (a new manager answers from then on).
  assert.equal((await h.cli('upgrade', '--node', '/nonexistent/node')).code, 1);
  for (const p of fieldPaths(await h.status())) seen.add(p);
  writeFileSync(app, good);
  writeFileSync(join(dir, 'hypnode.config.json'), '{}');
  const upgraded = await h.cli('upgrade');
  assert.equal(upgraded.code, 0, upgraded.stderr);
  const after = await h.status();
  h.seenPids.add(after.pid);
  for (const p of fieldPaths(after)) seen.add(p);
  assert.equal((await h.cli('stop')).code, 0);

  assert.deepEqual([...seen].sort(), [...documentedFields()].sort(), 'the JSON fields and the README agree');
});

const hasScript = spawnSync('script', ['--version']).status === 0;

test('reload progress: on a terminal, timed lines with the ready count updated in place; elsewhere, plain lines', { skip: hasScript ? false : 'script(1) is not installed' }, async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(await freePort()) } });

  writeFileSync(join(dir, 'version.txt'), '2\n');
  // script(1) runs the command on a pseudo-terminal.
  const tty = spawnSync('script', ['-qec', `'${process.execPath}' '${CLI}' reload '${app}'`, '/dev/null'], { env: { ...process.env, ...h.env }, encoding: 'utf8' });
  assert.equal(tty.status, 0, tty.stdout);
  const out = tty.stdout.replace(/\r/g, '');
  // Each line redrawn in place (its time ticking) until the next: a count replaces the last count.
  assert.match(out, /^\x1b\[2K +\d+\.\ds {2}starting generation 2: 2 workers(\x1b\[2K +\d+\.\ds {2}starting generation 2: 2 workers)*\n/m);
  assert.match(out, /ready\x1b\[2K +\d+\.\ds {2}generation 2: 2\/2 ready\n/, 'the count replaces the one before');
  assert.match(out, /draining generation 1; probation 2 s(\x1b\[2K +\d+\.\ds {2}generation 2 serves every new connection; draining generation 1; probation 2 s)+\n/, 'the probation is named, its time ticks');
  assert.match(out, /^\x1b\[2K +\d+\.\ds {2}done: generation 2 serves everything, the old drained, in [\d.]+ s\n/m);

  writeFileSync(join(dir, 'version.txt'), '3\n');
  const piped = await h.cli('reload');
  assert.equal(piped.code, 0);
  assert.doesNotMatch(piped.stderr, /\x1b/, 'no terminal codes where no terminal is');
  assert.match(piped.stderr, /^hypnode: generation 3: 2\/2 ready$/m);
  assert.match(piped.stderr, /^hypnode: done: generation 3 serves everything/m);
});
