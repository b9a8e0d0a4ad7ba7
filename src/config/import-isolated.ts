import { pathToFileURL } from 'node:url';

// A config module (.mjs/.js) is read again on every reload. Imported here, each version would
// stay in the manager's module cache for good (ES modules are never unloaded: measured, 10 KiB of
// memory per import), so it is imported in a worker thread instead, whose isolate goes away with
// every module it loaded. Settings are plain data, so the default export comes back as a copy.

// The worker reports a failure itself: an error thrown out of it (a value that cannot be
// copied, say) would arrive without its message.
const IMPORT_DEFAULT = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData)
  .then((m) => parentPort.postMessage({ value: m.default }))
  .catch((err) => parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) }));
`;

/**
 * The default export of the module at `path`; rejects with the module's own error message.
 * worker_threads is loaded only here: most managers have no config module, and it costs 1.6 MB.
 */
export async function importDefault(path: string): Promise<unknown> {
  const { Worker } = await import('node:worker_threads');
  return new Promise((resolve, reject) => {
    const worker = new Worker(IMPORT_DEFAULT, { eval: true, workerData: pathToFileURL(path).href });
    worker.once('message', (reply: { value?: unknown; error?: string }) => {
      if (reply.error !== undefined) reject(new Error(reply.error));
      else resolve(reply.value);
    });
    worker.once('error', reject);
    worker.once('exit', () => reject(new Error('the module ended its thread before it loaded')));
  });
}
