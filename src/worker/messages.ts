// The IPC vocabulary between the manager and its workers. Every message carries the `hypnode`
// marker so that the app's own process.on('message') listeners can tell ours apart, and so that
// PM2-style `process.send('ready')` strings from the app never collide with it.

/** Where a listen() call wants to accept: a TCP address or a unix socket path. */
export type ListenKey =
  | { kind: 'tcp'; host: string | null; port: number; ipv6Only: boolean }
  | { kind: 'unix'; path: string };

export interface WorkerStats {
  rss: number;
  heapUsed: number;
  requests: number;
  connections: number;
  accepted: number;
}

export type WorkerToManager =
  | { hypnode: 'listen'; id: number; key: ListenKey }
  | { hypnode: 'ready' }
  | { hypnode: 'heartbeat'; stats: WorkerStats }
  /** The worker closed its listening sockets: from now on it accepts nothing new. */
  | { hypnode: 'stopped-accepting' }
  /** The worker asks to be replaced gracefully (accepts limit, memory ceiling). */
  | { hypnode: 'recycle'; reason: string };

export type ManagerToWorker =
  | { hypnode: 'listen-reply'; id: number; error: null | { code: string; message: string } }
  | { hypnode: 'drain' };

/** Settings a worker needs, passed in its environment so they are there before the app loads. */
export interface WorkerConfig {
  generation: number;
  heartbeatInterval: number;
  waitReady: boolean;
  accepts: number;
  maxRss: number;
  idleCloseAfter: number;
  /** The worker's parent: when another process becomes its parent, the manager is dead. */
  managerPid: number;
}

export const WORKER_CONFIG_ENV = 'HYPNODE_WORKER_CONFIG';

export function isWorkerMessage(msg: unknown): msg is WorkerToManager {
  return typeof msg === 'object' && msg !== null && typeof (msg as { hypnode?: unknown }).hypnode === 'string';
}

export function listenKeyId(key: ListenKey): string {
  return key.kind === 'unix' ? `unix:${key.path}` : `tcp:${key.host ?? '*'}:${key.port}${key.ipv6Only ? ':v6only' : ''}`;
}
