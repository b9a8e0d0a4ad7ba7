import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeExit, wasRetired } from '../../src/manager/worker-exit.js';
import type { WorkerExit } from '../../src/protocol/worker-exit.js';
import { duration, secs } from '../../src/durations.js';

const exit = (over: Partial<WorkerExit>): WorkerExit => ({
  pid: 123, generation: 4, slot: 0, code: 1, signal: null, spawnError: null, endedBy: null,
  startedAt: 0, readyAt: null, exitedAt: 1000, listenError: null, outOfMemory: null, ...over,
});

test('describeExit: how, and before it was ready or how long after', () => {
  assert.equal(describeExit(exit({})), 'worker 123 (generation 4) exited with code 1 before it was ready');
  assert.equal(describeExit(exit({ readyAt: 600 })), 'worker 123 (generation 4) exited with code 1 0.40 s after it was ready');
  assert.equal(describeExit(exit({ code: null, signal: 'SIGKILL', readyAt: 0 })), 'worker 123 (generation 4) was killed by SIGKILL 1.00 s after it was ready');
  assert.equal(describeExit(exit({ endedBy: { kind: 'ready-timeout', afterMs: 60_000 } })), 'worker 123 (generation 4) was killed: not ready within the ready timeout (60.00 s)');
  assert.equal(describeExit(exit({ endedBy: { kind: 'not-ready', reason: 'the readiness probe GET / was answered 503' } })), 'worker 123 (generation 4) was stopped: the readiness probe GET / was answered 503');
  assert.equal(describeExit(exit({ listenError: 'tcp:*:80 (EACCES: permission denied)' })), 'worker 123 (generation 4) exited with code 1 before it was ready, after failing to listen on tcp:*:80 (EACCES: permission denied)');
  assert.equal(describeExit(exit({ pid: 0, spawnError: 'spawn node EMFILE' })), 'worker 0 (generation 4) could not be started: spawn node EMFILE');
  assert.equal(describeExit(exit({ code: null, signal: 'SIGKILL', readyAt: 0, outOfMemory: { by: 'kernel', rssBytes: 200 * 1048576 } })), "worker 123 (generation 4) ran out of memory: killed by the kernel's OOM killer (SIGKILL) holding 200 MiB (its last known RSS) 1.00 s after it was ready");
  assert.equal(describeExit(exit({ code: null, signal: 'SIGABRT', outOfMemory: { by: 'v8-heap', rssBytes: 0 } })), 'worker 123 (generation 4) ran out of memory (V8 heap, see --max-old-space-size): killed by SIGABRT before it was ready');
});

test('wasRetired: what the manager ended on purpose is no crash; timeouts and a failed probe are', () => {
  assert.equal(wasRetired(exit({})), false);
  for (const kind of ['superseded', 'replaced', 'fewer-workers', 'stop', 'fast-stop'] as const) assert.equal(wasRetired(exit({ endedBy: { kind } })), true, kind);
  assert.equal(wasRetired(exit({ endedBy: { kind: 'graceful-timeout', afterMs: 1 } })), true);
  assert.equal(wasRetired(exit({ endedBy: { kind: 'heartbeat-timeout', silentMs: 1 } })), false);
  assert.equal(wasRetired(exit({ endedBy: { kind: 'not-ready', reason: 'x' } })), false);
});

test('durations as people read them', () => {
  assert.equal(secs(400), '0.40 s');
  assert.deepEqual([45_000, 185_000, 7_800_000, 356_400_000].map(duration), ['45s', '3m05s', '2h10m', '4d03h']);
});
