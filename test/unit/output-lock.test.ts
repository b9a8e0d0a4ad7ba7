import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { outputLock, setNonBlocking, writeSome } from '../../src/native.js';
import { waitFor } from '../support/hypnode.js';

// The writers of one sink take turns by the output lock (native/hypnode_native.c): a small
// write is done side by side with others, a large batch alone. A writer killed in the middle of
// its small write (SIGKILL, the OOM killer) must not keep every large batch "busy" from then on.

const NATIVE = fileURLToPath(new URL('../../src/native.js', import.meta.url));

/** A FIFO open for reading and writing (non-blocking), and its path. */
function fifo(t: TestContext): { fd: number; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hypnode-lock-'));
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, 'r+');
  setNonBlocking(fd);
  t.after(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true });
  });
  return { fd, path };
}

/** Fills the pipe: a write to it then waits (blocking) or fails with EAGAIN. */
function fill(fd: number): void {
  const chunk = Buffer.alloc(4096, 'x');
  for (;;) {
    try {
      writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
      throw err;
    }
  }
}

test('a writer killed mid-way through a small write: large batches wait for it while it lives, not after it died', async (t) => {
  const lock = outputLock();
  const full = fifo(t);
  fill(full.fd);
  // The writer opens the full pipe blocking: its small write (one line) waits in write() with its turn taken.
  const code = `
    import { openSync } from 'node:fs';
    const { writeSome } = await import(${JSON.stringify(NATIVE)});
    const fd = openSync(${JSON.stringify(full.path)}, 'w');
    process.stdout.write('writing\\n');
    writeSome(3, fd, Buffer.from('a line\\n'), 0);`;
  const writer = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit', lock] });
  t.after(() => writer.kill('SIGKILL'));
  const exited = new Promise((resolve) => writer.on('exit', resolve));
  let said = '';
  writer.stdout!.setEncoding('utf8').on('data', (d: string) => (said += d));
  await waitFor('the writer to block in its write', () => said.includes('writing') && /pipe_write/.test(readFileSync(`/proc/${writer.pid}/wchan`, 'utf8')) || null, 20_000);

  const sink = fifo(t);
  const large = Buffer.alloc(3 * 4096, 'y');
  assert.equal(writeSome(lock, sink.fd, large, 0), 0, 'a large batch waits (writes nothing now) while a small write is under way');
  assert.equal(writeSome(lock, sink.fd, Buffer.from('small\n'), 0), 6, 'small writes go side by side');

  writer.kill('SIGKILL');
  await exited;
  assert.equal(writeSome(lock, sink.fd, large, 0), large.length, 'the dead writer\'s turn is freed: the large batch is written');
  closeSync(lock);
});
