import assert from 'node:assert/strict';
import { test } from 'node:test';
import { helpText, parseCli } from '../../src/cli/args.js';
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
});

test('parseCli: misuse is a usage error naming the flag or command', () => {
  const refused = (argv: string[], message: RegExp) => assert.throws(() => parseCli(argv), (err: Error) => err instanceof UsageError && message.test(err.message));
  refused(['frobnicate', 'x'], /unknown command "frobnicate"/);
  refused(['start', 'app.js', '--bogus'], /Unknown option '--bogus'.*hypnode --help/);
  refused(['start', 'a.js', 'b.js'], /unexpected argument "b\.js"; pass app arguments after --/);
  refused(['reload', 'app.js', '--', 'x'], /only for `hypnode start`/);
  refused(['start', 'app.js', '--args', 'x', '--', 'y'], /either with --args or after --/);
  refused(['stop', 'app.js', '--json'], /--json goes with `hypnode status`/);
  refused(['status', 'app.js', '--log-file', 'x'], /--log-file goes with `hypnode start`/);
  refused(['start', 'app.js', '--user', 'x'], /go with `hypnode unit`/);
  refused(['reload', 'app.js', '--node', '/usr/bin/node'], /--node goes with `hypnode upgrade`/);
  refused(['upgrade', 'app.js', '--node', ''], /--node needs the path of a Node binary/);
});

test('parseCli: upgrade takes --node', () => {
  const a = parseCli(['upgrade', 'app.js', '--node', '/opt/node24/bin/node']);
  assert.deepEqual([a.command, a.app, a.node], ['upgrade', 'app.js', '/opt/node24/bin/node']);
  assert.equal(parseCli(['upgrade', 'app.js']).node, null);
});

test('--help lists every setting with its variable, its default, and whether a reload changes it', () => {
  const help = helpText();
  for (const s of SETTINGS) {
    const line = help.split('\n').find((l) => l.includes(`--${s.flag} `));
    assert.ok(line, `--help names --${s.flag}`);
    assert.ok(line.includes(s.env) && line.includes(`(default: ${s.shown})`), line);
    assert.equal(line.includes('[start only]'), s.effect === 'start', line);
  }
});
