import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCli } from '../../src/cli/args.js';
import { commandHelp, globalHelp } from '../../src/cli/help.js';
import { UsageError } from '../../src/errors.js';
import { SETTINGS } from '../../src/config/settings.js';

test('parseCli: command, app, settings flags by key, app arguments after -- untouched', () => {
  const a = parseCli(['start', 'app.js', '--workers', '4', '--env', 'A=1', '--env', 'B=2', '--wait-ready', '--', '--workers', 'x', '--daemon']);
  assert.equal(a.command, 'start');
  assert.equal(a.app, 'app.js');
  assert.deepEqual(a.flags, { workers: '4', env: ['A=1', 'B=2'], waitReady: true });
  assert.deepEqual(a.appArgs, ['--workers', 'x', '--daemon']);
  assert.equal(a.daemon, false, "a --daemon after -- is the app's");
  assert.deepEqual(parseCli(['unit', 'app.js', '--user', 'app', '--writable', '/a', '--writable', '/b', '--privileged-ports']).writable, ['/a', '/b']);
  assert.equal(parseCli(['--version']).command, 'version');
  assert.equal(parseCli([]).command, 'help');
  assert.deepEqual([parseCli(['help', 'unit']).helpFor, parseCli(['unit', '--help']).helpFor, parseCli(['help']).helpFor], ['unit', 'unit', null]);
  // A value that starts with a dash is the flag's (node's parser would call it ambiguous); a known flag is not.
  assert.deepEqual(parseCli(['start', 'app.js', '--node-args', '--import tsx', '--workers', '-1']).flags, { nodeArgs: ['--import tsx'], workers: '-1' });
  assert.throws(() => parseCli(['start', 'app.js', '--name', '--daemon']), /^UsageError: --name needs a value/);
});

test('parseCli: misuse is a usage error naming the flag or command', () => {
  const refused = (argv: string[], message: RegExp) => assert.throws(() => parseCli(argv), (err: Error) => err instanceof UsageError && message.test(err.message));
  refused(['frobnicate', 'x'], /unknown command "frobnicate"; see `hypnode help`/);
  refused(['relaod', 'x'], /unknown command "relaod" \(did you mean "reload"\?\)/);
  refused(['start', 'app.js', '--bogus'], /^unknown option --bogus; see `hypnode help start`$/);
  refused(['start', 'app.js', '--wokers', '2'], /^unknown option --wokers \(did you mean --workers\?\); see `hypnode help start`$/);
  refused(['start', 'app.js', '--workers'], /^--workers needs a value/);
  refused(['status', 'app.js', '--json=yes'], /^--json takes no value/);
  refused(['help', 'stauts'], /no command "stauts" \(did you mean "status"\?\)/);
  refused(['ls', 'app.js'], /`hypnode ls` takes no APP/);
  refused(['start', 'a.js', 'b.js'], /unexpected argument "b\.js"; pass app arguments after --/);
  refused(['reload', 'app.js', '--', 'x'], /only for `hypnode start` and `hypnode unit`/);
  refused(['start', 'app.js', '--args', 'x', '--', 'y'], /either with --args or after --/);
  refused(['top', 'app.js', '--json'], /--json goes with `hypnode reload`, .*, not `hypnode top`/);
  refused(['status', 'app.js', '--log-file', 'x'], /--log-file goes with `hypnode start`/);
  refused(['start', 'app.js', '--user', 'x'], /--user goes with `hypnode unit`/);
  refused(['reload', 'app.js', '--node', '/usr/bin/node'], /--node goes with `hypnode upgrade`/);
  refused(['upgrade', 'app.js', '--node', ''], /--node needs the path of a Node binary/);
});

test('parseCli: a former flag (--upgrade-timeout) sets the setting under its current key; both at once is an error naming both', () => {
  assert.deepEqual(parseCli(['start', 'app.js', '--upgrade-timeout', '5']).flags, { readyTimeout: '5' });
  assert.deepEqual(parseCli(['unit', 'app.js', '--upgrade-timeout=5']).flags, { readyTimeout: '5' });
  assert.deepEqual(parseCli(['start', 'app.js', '--ready-timeout', '6']).flags, { readyTimeout: '6' });
  assert.throws(() => parseCli(['start', 'app.js', '--ready-timeout', '6', '--upgrade-timeout', '5']),
    (err: Error) => err instanceof UsageError && /^both --ready-timeout and --upgrade-timeout \(its former name\) are given: give only --ready-timeout$/.test(err.message));
  assert.doesNotThrow(() => parseCli(['status', 'app.js', '--upgrade-timeout', '5']), "a command that finds the instance takes start's flags, former ones too");
  assert.throws(() => parseCli(['ls', '--upgrade-timeout', '5']), /^UsageError: --upgrade-timeout goes with the commands that take APP, not `hypnode ls`$/);
  assert.match(commandHelp('start', 1000), /formerly --upgrade-timeout, HYPNODE_UPGRADE_TIMEOUT/);
});

test('parseCli: a switch is turned off with --no-FLAG; both at once is an error naming both', () => {
  assert.deepEqual(parseCli(['start', 'app.js', '--no-balanced-accept']).flags, { balancedAccept: false });
  assert.deepEqual(parseCli(['start', 'app.js', '--balanced-accept']).flags, { balancedAccept: true });
  assert.throws(() => parseCli(['start', 'app.js', '--balanced-accept', '--no-balanced-accept']), (err: Error) => err instanceof UsageError && /--balanced-accept and --no-balanced-accept/.test(err.message));
  assert.throws(() => parseCli(['ls', '--no-wait-ready']), /^UsageError: --no-wait-ready goes with the commands that take APP, not `hypnode ls`$/);
});

test('parseCli: upgrade takes --node', () => {
  const a = parseCli(['upgrade', 'app.js', '--node', '/opt/node24/bin/node']);
  assert.deepEqual([a.command, a.app, a.node], ['upgrade', 'app.js', '/opt/node24/bin/node']);
  assert.equal(parseCli(['upgrade', 'app.js']).node, null);
});

test('help: per command, with value placeholders, every setting for start and unit, wrapped to the width', () => {
  for (const width of [80, 120, 50]) {
    const start = commandHelp('start', width);
    for (const line of [...start.split('\n'), ...globalHelp(width).split('\n'), ...commandHelp('reload', width).split('\n')]) {
      assert.ok(line.length <= width, `at most ${width} columns: ${line}`);
    }
    const flat = start.replace(/\s+/g, ' ');
    for (const s of SETTINGS) {
      assert.ok(flat.includes(`--${s.flag}`), `start's help names --${s.flag}`);
      assert.ok(flat.includes(`(default: ${s.shown}; ${s.env}`), `--${s.flag}'s default and variable`);
    }
    assert.match(flat, /--workers N /);
    assert.match(flat, /--admin ADDRESS /);
  }
  assert.match(commandHelp('unit', 80), /--out DIR/);
  assert.doesNotMatch(commandHelp('reload', 80), /--workers/, "reload's help shows what reload takes");
  assert.match(commandHelp('reload', 80), /--name NAME/);
});
