import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { trustDir } from '../../src/control/manager-trust.js';

// Which runtime directories the CLI trusts the manager in, and as which users it may run.

const NOBODY = 65534;
const root = process.getuid?.() === 0;
const at = (dir: string, named = false) => trustDir({ dir, socket: join(dir, 'app.sock'), label: 'app', named });

test('the runtime directory: the caller\'s own, root\'s, in a place root gave its owner, or named; never one others may write to', { skip: !root && 'needs root, to make directories of other users' }, (t) => {
  const base = mkdtempSync(join(tmpdir(), 'hypnode-trust-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  chmodSync(base, 0o755);
  const own = join(base, 'own');
  mkdirSync(own, { mode: 0o700 });
  assert.deepEqual(at(own), { uids: [0] });
  assert.deepEqual(at(join(base, 'missing')), { uids: [0] }, 'nothing there: the connection says so');
  chmodSync(own, 0o777);
  assert.match((at(own) as { refusal: string }).refusal, /is writable by others \(mode 777\)/);

  // A service user's directory in root's (as systemd makes /run/hypnode/NAME), and below it.
  const unit = join(base, 'unit');
  mkdirSync(join(unit, 'hypnode'), { recursive: true, mode: 0o700 });
  chownSync(unit, NOBODY, NOBODY);
  chownSync(join(unit, 'hypnode'), NOBODY, NOBODY);
  assert.deepEqual(at(unit), { uids: [0, NOBODY] });
  assert.deepEqual(at(join(unit, 'hypnode')), { uids: [0, NOBODY] });

  // The same, made by that user in a directory anyone may write to (/tmp): a stranger's.
  const shared = join(base, 'tmp');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  const squatted = join(shared, 'hypnode-0');
  mkdirSync(squatted, { mode: 0o755 });
  chownSync(squatted, NOBODY, NOBODY);
  assert.match((at(squatted) as { refusal: string }).refusal, /belongs to uid 65534, not to you \(uid 0\) or root/);
  assert.deepEqual(at(squatted, true), { uids: [0, NOBODY] }, 'unless the caller named it (--runtime-dir)');
});
