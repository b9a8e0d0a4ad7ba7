import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';

// Loaded into a manager under test (NODE_OPTIONS=--import=...): SIGURG runs a full garbage
// collection, so that a reading of its memory counts what it keeps, not garbage not yet collected.
// SIGURG, because nothing else uses it and it is ignored where this module is not loaded. Each
// collection done is counted in GC_ACK_DIR/<pid>, so that a test waits for it, not for a time.

if (isMainThread) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const ackDir = process.env.GC_ACK_DIR;
  let collections = 0;
  process.on('SIGURG', () => {
    gc();
    if (ackDir) writeFileSync(join(ackDir, String(process.pid)), String(++collections));
  });
}
