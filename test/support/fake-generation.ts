import { Generation } from '../../src/manager/generation.js';
import { ListenerRegistry } from '../../src/manager/listeners.js';
import type { WorkerSpec } from '../../src/manager/worker-process.js';
import { FakeHost, memoryLog } from './fake-host.js';

// A Generation of fake workers on a FakeHost (see fake-host.ts), with short, round deadlines.

export const READY_TIMEOUT_MS = 10_000;
export const HEARTBEAT_TIMEOUT_MS = 30_000;
export const GRACEFUL_TIMEOUT_MS = 3_000;

export function spec(generation: number): WorkerSpec {
  return {
    app: '/app.js', cwd: '/', args: [], nodeArgs: [], env: {}, outputFds: [],
    config: { generation, heartbeatInterval: 1, waitReady: false, readyPath: null, accepts: 0, maxRss: 0, loopDelay: false, idleCloseAfter: 1000, managerPid: 1, output: null },
    readyTimeoutMs: READY_TIMEOUT_MS, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, gracefulTimeoutMs: GRACEFUL_TIMEOUT_MS,
  };
}

export function fakeGeneration(host: FakeHost, id: number, size: number, startTries = 0): Generation {
  return new Generation(id, size, { registry: new ListenerRegistry(), log: memoryLog(), spec: spec(id), release: { app: '/app.js', cwd: '/' }, recycleAtOnce: 1, acceptsJitter: 0, startTries, host });
}

/** Every live worker of generation `id` says it is ready; resolves once the manager has heard. */
export async function allReady(host: FakeHost, id: number): Promise<void> {
  for (const w of host.live(id)) w.ready();
  await host.nextTurn();
}

/** Generation `id`, `size` workers serving: started the first way, every worker ready. */
export async function servingGeneration(host: FakeHost, id: number, size: number): Promise<Generation> {
  const gen = fakeGeneration(host, id, size);
  const started = gen.start('first');
  await allReady(host, id);
  await started;
  return gen;
}
