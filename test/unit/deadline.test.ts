import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { test } from 'node:test';
import { Deadline } from '../../src/manager/deadline.js';

// A real child sends a message every 50 ms through a real IPC pipe, while this process does not
// run (its thread blocked in Atomics.wait, as a frozen manager's is) well past the deadline.

const CHILD = `setInterval(() => process.send('beat'), 50);`;

/** Blocks this thread for `ms`: no timer, no I/O, as if the process were stopped. */
function freeze(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function overFreeze(t: { after(fn: () => void): void }, sends: boolean): Promise<boolean> {
  const child = fork('-e', [CHILD], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((resolve) => child.once('message', resolve));
  if (!sends) child.kill('SIGSTOP');
  let passed = false;
  let deadline = new Deadline(300, () => (passed = true));
  child.on('message', () => {
    deadline.cancel();
    deadline = new Deadline(300, () => (passed = true));
  });
  freeze(1000);
  // The turns after the freeze: the overdue timer, the pipe read, the verdict.
  await new Promise((resolve) => setTimeout(resolve, 100));
  deadline.cancel();
  child.kill('SIGCONT');
  return passed;
}

test('Deadline: overdue after a freeze, it does not pass if a message came meanwhile', async (t) => {
  assert.equal(await overFreeze(t, true), false);
});

test('Deadline: overdue after a freeze, it passes if nothing came', async (t) => {
  assert.equal(await overFreeze(t, false), true);
});
