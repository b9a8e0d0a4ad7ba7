import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FinalReply } from '../src/protocol/control.js';
import type { ReloadResult } from '../src/protocol/status.js';
import { ask, faultApp, get, quickStatus, sleep } from './support/faults.js';
import { freePort, startHypnode, waitFor, type CliResult } from './support/hypnode.js';

// Issue #5, reload storms: 50 reload requests in a row (within a second on an idle machine), by signal, by the CLI and straight
// over the control socket, coalesce; there are never more than two generations at once, and
// every caller that can be answered is.

test('a storm of 50 reload requests in a second coalesces, keeps at most two generations, and answers every caller', async (t) => {
  const { dir, app } = faultApp(t);
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });
  // The first reload's new workers wait at the gate until the storm is over, however long a busy
  // machine makes it: every request after the first then shares one more run (a CLI caller, a node
  // process starting, may reach the manager only after the gate opened: one run more at most).
  writeFileSync(join(dir, 'boot-gate'), '');
  writeFileSync(join(dir, 'version.txt'), '2\n');

  let watching = true;
  let mostGenerations = 0;
  let mostWorkers = 0;
  const watcher = (async () => {
    while (watching) {
      const s = await quickStatus(h);
      mostGenerations = Math.max(mostGenerations, new Set(s.workers.map((w) => w.generation)).size);
      mostWorkers = Math.max(mostWorkers, s.workers.length);
      await sleep(20);
    }
  })();

  const cli: Promise<CliResult>[] = [];
  const direct: Promise<FinalReply>[] = [];
  const stormStart = Date.now();
  for (let i = 0; i < 50; i++) {
    // HUP is the reload signal (USR2 upgrades the manager itself: test/upgrade.test.ts).
    if (i % 2 === 0) process.kill(h.pid, 'SIGHUP');
    else if (i % 10 === 1) cli.push(h.cli('reload'));
    else direct.push(ask(h, 'reload'));
    await sleep(18);
  }
  const stormTook = Date.now() - stormStart;
  rmSync(join(dir, 'boot-gate'));
  const cliResults = await Promise.all(cli);
  const replies = await Promise.all(direct);
  await waitFor('the last reload to end', async () => !(await quickStatus(h)).reloading, 120_000);
  watching = false;
  await watcher;

  const s = await quickStatus(h);
  const generations = replies.map((r) => (r.ok ? (r.result as ReloadResult).generation : `failed: ${r.error}`));
  t.diagnostic(`storm of 50 in ${stormTook} ms: final generation ${s.generation}; direct callers got generations ${[...new Set(generations)].join(', ')}; at most ${mostGenerations} generations and ${mostWorkers} workers at once`);
  for (const r of cliResults) assert.equal(r.code, 0, r.stderr);
  for (const r of replies) assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(cli.length + direct.length, 25);
  assert.ok(s.generation! >= 2 && s.generation! <= 4, `50 requests made ${s.generation! - 1} reloads`);
  assert.ok(mostGenerations <= 2, `${mostGenerations} generations at once`);
  assert.ok(mostWorkers <= 4, `${mostWorkers} workers at once`);
  assert.equal(s.lastReload?.ok, true);
  assert.equal((await get(port)).version, '2');
});
