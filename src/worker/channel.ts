import type { ManagerToWorker, WorkerToManager } from '../protocol/worker.js';

// The IPC channel to the manager. It is unref'd while idle so that it never keeps a worker alive
// on its own (an app that opens nothing exits instead of hanging until the ready timeout), and
// ref'd while the worker waits for an answer.

type Handler = (msg: ManagerToWorker, handle: unknown) => void;

let pending = 0;
const handlers = new Set<Handler>();

export function sendToManager(msg: WorkerToManager): void {
  if (process.connected && process.send) process.send(msg);
}

/** Resolves once `msg` is handed to the kernel (or could not be sent): before a deliberate exit. */
export function sendAndFlush(msg: WorkerToManager): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || !process.send) return resolve();
    process.send(msg, undefined, {}, () => resolve());
  });
}

export function onManagerMessage(handler: Handler): void {
  handlers.add(handler);
}

export function holdChannel(): () => void {
  if (pending++ === 0) process.channel?.ref();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--pending === 0) process.channel?.unref();
  };
}

export function startChannel(): void {
  process.on('message', (msg: unknown, handle: unknown) => {
    if (typeof msg !== 'object' || msg === null || !('hypnode' in msg)) return;
    for (const h of handlers) h(msg as ManagerToWorker, handle);
  });
  process.channel?.unref();
}
