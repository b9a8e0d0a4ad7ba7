import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../src/cli/args.js';
import { exitStatus, NOT_SERVING, TRY_LATER } from '../../src/cli/exit-status.js';
import { OperationError, UsageError } from '../../src/errors.js';
import { codeOf, ERROR_CODES, type ErrorCode } from '../../src/protocol/error-codes.js';

// Issue #26, point 4: error codes, and the exit statuses the CLI chooses by them.

const commands = [...(Object.keys(COMMANDS) as (keyof typeof COMMANDS)[]), 'version'] as const;

test('exit statuses: a refusal to try later is no failed deploy; bad input 2; status says "not running" with 3', () => {
  for (const cmd of ['reload', 'upgrade'] as const) {
    assert.equal(exitStatus('BUSY', cmd), TRY_LATER);
    assert.equal(exitStatus('UPGRADING', cmd), TRY_LATER);
    assert.equal(exitStatus('START_FAILED', cmd), 1);
    assert.equal(exitStatus('PROBATION_FAILED', cmd), 1);
    assert.equal(exitStatus('BAD_INPUT', cmd), 2);
    assert.equal(exitStatus('CONFIG_INVALID', cmd), 2);
    assert.equal(exitStatus('NOT_RUNNING', cmd), 1);
  }
  assert.notEqual(TRY_LATER, 1);
  assert.equal(exitStatus('NOT_RUNNING', 'status'), NOT_SERVING);
  assert.equal(exitStatus('BAD_INPUT', null), 2, 'a command line not understood');
  for (const code of ERROR_CODES) {
    for (const cmd of commands) {
      const status = exitStatus(code, cmd);
      assert.ok(Number.isInteger(status) && status > 0 && status < 126, `${code} from ${cmd}: ${status} is an exit status a shell keeps apart from signals`);
    }
  }
});

test('codeOf: the code an error or a reply carries; a peer of another version that sends none or an unknown one gets the fallback', () => {
  assert.equal(codeOf(new UsageError('x', 'CONFIG_INVALID'), 'INTERNAL'), 'CONFIG_INVALID');
  assert.equal(codeOf(new UsageError('x'), 'INTERNAL'), 'BAD_INPUT');
  assert.equal(codeOf(new OperationError('x', 'ALREADY_RUNNING'), 'INTERNAL'), 'ALREADY_RUNNING');
  assert.equal(codeOf(new OperationError('x'), 'INTERNAL'), 'FAILED');
  assert.equal(codeOf(Object.assign(new Error('no such file'), { code: 'ENOENT' }), 'INTERNAL'), 'INTERNAL', "a system error's code is no hypnode code");
  // What a manager older than the codes answers, and one newer than this CLI.
  assert.equal(codeOf({ ok: false, error: 'the manager itself is being upgraded; reload once that is done' }, 'FAILED'), 'FAILED');
  assert.equal(codeOf({ ok: false, error: 'x', code: 'SOMETHING_NEW' }, 'FAILED'), 'FAILED');
  assert.equal(codeOf({ ok: false, error: 'x', code: 'BUSY' }, 'FAILED'), 'BUSY');
  assert.equal(codeOf(null, 'FAILED'), 'FAILED');
});

test("the README's exit code table lists every code once, with the exit statuses the CLI gives it", () => {
  const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');
  const section = /^## Exit codes$([\s\S]*?)^## /m.exec(readme);
  assert.ok(section, 'the README has an "Exit codes" section');
  const rows = [...section[1]!.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => ({ code: m[1] as ErrorCode, statuses: [...m[2]!.matchAll(/`(\d+)`/g)].map((n) => Number(n[1])) }));
  assert.deepEqual(rows.map((r) => r.code).sort(), [...ERROR_CODES].sort());
  for (const { code, statuses } of rows) {
    const given = new Set(commands.map((cmd) => exitStatus(code, cmd)));
    assert.deepEqual(new Set(statuses), given, `${code}: the README says ${statuses.join(', ')}`);
  }
});
