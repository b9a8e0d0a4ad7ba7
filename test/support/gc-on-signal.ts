import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread } from 'node:worker_threads';

// Loaded into a manager under test (NODE_OPTIONS=--import=...): SIGURG runs a full garbage
// collection, so that a reading of its memory counts what it keeps, not garbage not yet collected.
// SIGURG, because nothing else uses it and it is ignored where this module is not loaded.

if (isMainThread) {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  process.on('SIGURG', () => gc());
}
