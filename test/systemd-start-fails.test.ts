import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BOOT_ERROR, bootCrashApp } from './support/boot-crash.js';
import { freePort, runCli, tempDir } from './support/hypnode.js';
import { unitName } from '../src/systemd/unit.js';
import { startUserManager, systemdSkipReason } from './support/systemd.js';

// Issue #22, point 6, under a real systemd: the unit `hypnode unit` writes, for code that throws
// at boot. Under systemd --start-tries defaults to 3, so `systemctl start` fails in seconds (not
// after TimeoutStartSec=), and the journal and `systemctl status` say the app's own error.

const skip = systemdSkipReason() ?? false;

test('systemctl start of code that crashes at boot fails in seconds, with the app\'s error in the journal and the status', { skip }, async (t) => {
  const sb = await startUserManager(t, { journal: true });
  const { app } = bootCrashApp(t);
  const service = `${unitName(app, null)}.service`;
  const port = await freePort();
  const runtime = tempDir(t, 'hypnode-sdrun-');
  const unit = await runCli(['unit', app, '--workers', '2', '--user', 'root', '--runtime-dir', runtime, '--env', `PORT=${port}`, '--out', sb.unitDir]);
  assert.equal(unit.code, 0, unit.stderr);
  // The unit restarts a failed manager after 1 s (Restart=on-failure): here only after a minute,
  // so that what the failed start left (its status, its exit) is still there to read.
  mkdirSync(join(sb.unitDir, `${service}.d`));
  writeFileSync(join(sb.unitDir, `${service}.d`, 'restart-later.conf'), '[Service]\nRestartSec=60\n');
  assert.equal((await sb.systemctl('daemon-reload')).code, 0);

  const started = Date.now();
  const start = await sb.systemctl('start', service);
  const tookMs = Date.now() - started;
  t.diagnostic(`systemctl start failed after ${tookMs} ms`);
  assert.notEqual(start.code, 0, 'systemctl start fails');
  // The unit's TimeoutStartSec= is 122 s: a failure within a quarter of it is the app's, not the timeout's.
  assert.ok(tookMs < 30_000, `systemctl start returned after ${tookMs} ms`);
  const shown = await sb.show(service, ['Result', 'ExecMainStatus']);
  assert.equal(shown.Result, 'exit-code', JSON.stringify(shown));
  assert.equal(shown.ExecMainStatus, '1');

  const journal = await sb.journal('-u', service, '-o', 'cat');
  assert.match(journal.stdout, /the app cannot start: worker \d+ \(generation 1\) exited with code 1 before it was ready; giving up after 3 tries/);
  assert.match(journal.stdout, new RegExp(`^\\[hypnode\\] error:\\s+${BOOT_ERROR}$`, 'm'), 'the app\'s last words are in the manager\'s error');
  // What `systemctl status` shows as Status: the reason, kept after the manager exited.
  const { StatusText } = await sb.show(service, ['StatusText']);
  assert.match(StatusText!, new RegExp(`^FAILED to start: worker \\d+ \\(generation 1\\) exited with code 1 before it was ready; giving up after 3 tries \\(--start-tries\\): ${BOOT_ERROR}$`));
});
