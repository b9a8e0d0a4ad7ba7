import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { faultApp, get, isRoot, quickStatus, runAs } from './support/faults.js';
import { freePort, runCli, startHypnode, tempDir, waitFor, type CliResult } from './support/hypnode.js';

// Issue #5, bad input, where test/cli-input.test.ts leaves off: each is one line naming the
// culprit (the file, the key and what it allows, the flag), a non-zero exit, and a running
// instance that serves on untouched.

function oneLine(r: CliResult, code: number, expected: RegExp, what: string): void {
  assert.equal(r.code, code, `${what}: exit ${r.code}, ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line, not:\n${r.stderr}`);
  assert.match(r.stderr, expected, what);
}

test('config values of the wrong type or out of range name the key and what it allows', async (t) => {
  const dir = tempDir(t);
  const app = join(dir, 'app.js');
  writeFileSync(app, '');
  const cases: [string, RegExp][] = [
    ['{"workers": "four"}', /hypnode\.config\.json: key "workers": expected a number \(got "four"\)/],
    ['{"workers": 1.5}', /key "workers": expected a whole number \(got 1\.5\)/],
    ['{"workers": 100000}', /key "workers": must be at most 512 \(got 100000\)/],
    ['{"gracefulTimeout": -1}', /key "gracefulTimeout": must be more than 0 \(got -1\)/],
    ['{"logFormat": "xml"}', /key "logFormat": expected "text" or "json" \(got "xml"\)/],
    // The workers' env may hold secrets: the entry is named, its value never quoted.
    ['{"env": {"A": 1, "B": "s3cret"}}', /key "env" at A: expected a string\n$/],
    ['[1, 2]', /hypnode\.config\.json must hold an object of settings/],
  ];
  for (const [config, expected] of cases) {
    writeFileSync(join(dir, 'hypnode.config.json'), config);
    oneLine(await runCli(['unit', app], { env: { HYPNODE_RUNTIME_DIR: dir } }), 2, expected, config);
  }
  writeFileSync(join(dir, 'hypnode.config.json'), '{}');
  writeFileSync(join(dir, 'broken.mjs'), 'export default {');
  oneLine(await runCli(['unit', app, '--config', join(dir, 'broken.mjs')], { env: { HYPNODE_RUNTIME_DIR: dir } }), 2, /config file .*broken\.mjs failed to load: Unexpected end of input/, 'a .mjs config with a syntax error');
});

test('conflicting flags, and commands for an instance that does not run, are refused in one line', async (t) => {
  const dir = tempDir(t);
  const app = join(dir, 'app.js');
  writeFileSync(app, '');
  const env = { HYPNODE_RUNTIME_DIR: dir };
  const cases: [string[], number, RegExp][] = [
    [['reload', app, '--fast'], 2, /--fast goes with `hypnode stop`/],
    [['top', app, '--json'], 2, /--json goes with `hypnode reload`, .*, not `hypnode top`/],
    [['start', app, '--args', 'x', '--', 'y'], 2, /either with --args or after --, not both/],
    [['status', app, '--', 'y'], 2, /app arguments after -- are only for `hypnode start`/],
    [['status', app, '--log-file', join(dir, 'log')], 2, /--log-file goes with `hypnode start`/],
    [['start', app, '--heartbeat-interval', '2', '--heartbeat-timeout', '1'], 2, /heartbeatTimeout \(1s\) must be longer than heartbeatInterval \(2s\)/],
    [['start', app, '--graceful-timeout', 'soon'], 2, /flag --graceful-timeout: expected seconds such as 30, 1\.5, 500ms or 2m, got "soon"/],
    [['stop', app], 1, /no hypnode instance is running for .*app\.js/],
  ];
  for (const [args, code, expected] of cases) oneLine(await runCli(args, { env }), code, expected, args.join(' '));
});

test('an app file the user cannot read is named', { skip: !isRoot && 'needs root, to act as another user' }, async (t) => {
  const dir = tempDir(t);
  chmodSync(dir, 0o755);
  const app = join(dir, 'app.js');
  writeFileSync(app, '', { mode: 0o600 });
  oneLine(await runAs('nobody', ['start', app], { HYPNODE_RUNTIME_DIR: dir }), 2, /app file .*app\.js is not readable by this user/, 'unreadable app');
});

test('a reload to code with a syntax error, or to a broken config file, fails in one line; the old code serves on', async (t) => {
  const { dir, app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });
  const good = readFileSync(app, 'utf8');

  writeFileSync(app, `${good}\nconst broken = ;\n`);
  let r = await h.cli('reload');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--- output of the new code ---[\s\S]*SyntaxError: Unexpected token ';'[\s\S]*\n---\n/);
  assert.match(r.stderr.trim().split('\n').pop()!, /^hypnode: reload failed: worker \d+ \(generation 2\) exited with code 1 before it was ready; the old code keeps serving \(generation 1, 2\/2 workers ready\)$/);
  assert.equal((await get(port)).version, '1');
  writeFileSync(app, good);

  writeFileSync(join(dir, 'hypnode.config.json'), '{"workers": 2, "gracefulTimeout": "soon"}');
  // The CLI reads the config too (it may name the instance), and stops there...
  oneLine(await h.cli('reload'), 2, /^hypnode: config file .*hypnode\.config\.json: key "gracefulTimeout": expected a number \(got "soon"\)\n$/, 'a broken config at reload');
  // ...and a reload by signal fails in the manager, which says why.
  process.kill(h.pid, 'SIGHUP');
  // (The syntax error above left lastReload failed already: wait for this reload's own word.)
  const failure = /reload failed: config file .*hypnode\.config\.json: key "gracefulTimeout": .*\(got "soon"\); the old code keeps serving \(generation 1, 2\/2 workers ready\)/;
  await waitFor('the reload by signal to fail', () => failure.test(h.output));
  const s = await quickStatus(h);
  assert.equal(s.generation, 1, 'the failed reloads left generation 1 serving');
  assert.equal(s.workersReady, 2);
  assert.equal((await get(port)).version, '1');

  writeFileSync(join(dir, 'hypnode.config.json'), '{"workers": 2}');
  writeFileSync(join(dir, 'version.txt'), '2\n');
  r = await h.cli('reload');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await get(port)).version, '2');
});
