import net from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { listenKeyId, type ListenKey } from '../protocol/listen-key.js';
import { clearStaleSocketPath, keepSocketPath, releaseSocketPath, restoreSocketPath } from './socket-path.js';

// The listening sockets, owned by the manager for its whole life. A socket is bound here and
// handed to workers, which call listen() and accept on it themselves (measured: twice the
// new-connection throughput of a manager that accepts and passes connections on). Because the
// manager holds every socket, a reload or a crashed worker never closes one: clients queue in
// the kernel's backlog instead of being refused.

/** A bound socket handle (node's internal TCP or Pipe wrap), as cluster's primary uses them. */
export type SocketHandle = { fd: number; close(cb?: () => void): void; getsockname?(out: object): number };

type CreateServerHandle = (address: string | null, port: number, addressType: number, fd?: number, flags?: number) => SocketHandle | number;
const createServerHandle = (net as unknown as { _createServerHandle: CreateServerHandle })._createServerHandle;
const UV_TCP_IPV6ONLY = 1;

export interface ListenError {
  code: string;
  message: string;
}

interface Entry {
  id: string;
  key: ListenKey;
  handle: SocketHandle;
  /** Named sockets came from systemd (socket activation or the fd store) and are never closed early. */
  name: string | null;
}

export interface AdoptedSocket {
  fd: number;
  /** The socket unit's name for it; null for a socket of our own back from the fd store. */
  name: string | null;
  key: ListenKey;
}

export class ListenerRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly creating = new Map<string, Promise<Entry | ListenError>>();
  /**
   * Whether closing one of its own unix sockets removes its path. Not while another manager
   * holds the same sockets: a successor before its upgrade commits, a predecessor after.
   */
  ownsPaths = true;

  /** Take sockets the manager was given (LISTEN_FDS), so that matching listen() calls land on them. */
  adopt(sockets: AdoptedSocket[]): void {
    for (const s of sockets) {
      const handle = createServerHandle(null, 0, 0, s.fd);
      if (typeof handle === 'number') throw new Error(`cannot use inherited socket fd ${s.fd} (${s.name ?? 'fd store'}): ${errorOf(handle).message}`);
      const id = listenKeyId(s.key);
      this.entries.set(id, { id, key: s.key, handle, name: s.name });
    }
  }

  async acquire(requested: ListenKey): Promise<{ id: string; handle: SocketHandle } | { error: ListenError }> {
    let key: ListenKey;
    try {
      key = await normalize(requested);
    } catch (err) {
      return { error: { code: (err as NodeJS.ErrnoException).code ?? 'EINVAL', message: (err as Error).message } };
    }
    const id = listenKeyId(key);
    const found = this.entries.get(id) ?? (key.kind === 'tcp' && key.port !== 0 ? this.wildcardFor(key) : undefined);
    if (found) {
      if (found.key.kind === 'unix' && found.name === null) restoreSocketPath(found.key.path);
      return { id: found.id, handle: found.handle };
    }
    let creating = this.creating.get(id);
    if (!creating) {
      creating = this.create(id, key);
      this.creating.set(id, creating);
      void creating.finally(() => this.creating.delete(id));
    }
    const entry = await creating;
    return 'handle' in entry ? { id: entry.id, handle: entry.handle } : { error: entry };
  }

  /** Close the sockets no live worker listens on any more (the new code dropped a port). */
  prune(inUse: ReadonlySet<string>): void {
    for (const entry of this.entries.values()) {
      if (!inUse.has(entry.id) && entry.name === null) {
        this.close(entry);
        this.entries.delete(entry.id);
      }
    }
  }

  /** Every socket, and the name systemd gave it (for the fd store and an upgrade), null if ours. */
  list(): { id: string; fd: number; key: ListenKey; name: string | null; inherited: boolean }[] {
    return [...this.entries.values()].map((e) => ({ id: e.id, fd: e.handle.fd, key: e.key, name: e.name, inherited: e.name !== null }));
  }

  closeAll(): void {
    for (const entry of this.entries.values()) this.close(entry);
    this.entries.clear();
  }

  private async create(id: string, key: ListenKey): Promise<Entry | ListenError> {
    let handle = bind(key);
    if (typeof handle === 'number' && key.kind === 'unix' && errorOf(handle).code === 'EADDRINUSE' && (await clearStaleSocketPath(key.path))) {
      handle = bind(key);
    }
    if (typeof handle === 'number') return errorOf(handle);
    if (key.kind === 'unix') keepSocketPath(key.path);
    const entry: Entry = { id, key, handle, name: null };
    // Port 0 asks the kernel for a port: later listen(0) calls share this one, as under cluster.
    this.entries.set(id, entry);
    return entry;
  }

  /** An inherited socket on the wildcard address serves a listen() on the same port. */
  private wildcardFor(key: ListenKey & { kind: 'tcp' }): Entry | undefined {
    for (const e of this.entries.values()) {
      if (e.name !== null && e.key.kind === 'tcp' && e.key.port === key.port && (e.key.host === null || key.host === null)) return e;
    }
    return undefined;
  }

  private close(entry: Entry): void {
    entry.handle.close();
    if (entry.key.kind === 'unix' && entry.name === null && this.ownsPaths) releaseSocketPath(entry.key.path);
  }
}

function bind(key: ListenKey): SocketHandle | number {
  if (key.kind === 'unix') return createServerHandle(key.path, -1, -1);
  const handle = createServerHandle(key.host, key.port, key.host && net.isIPv6(key.host) ? 6 : 4, undefined, key.ipv6Only ? UV_TCP_IPV6ONLY : 0);
  // libuv holds back a TCP bind's EADDRINUSE until listen(), which only a worker calls: the
  // manager would keep the unbound socket, and every worker fail on it even once the port is
  // free. getsockname() reports the held-back error now.
  if (typeof handle === 'number') return handle;
  const held = handle.getsockname?.({}) ?? 0;
  if (held < 0) {
    handle.close();
    return held;
  }
  return handle;
}

async function normalize(key: ListenKey): Promise<ListenKey> {
  if (key.kind === 'unix' || key.host === null || net.isIP(key.host)) return key;
  // Loaded when a name is to be looked up: most apps listen on an address or a port alone.
  const { lookup } = await import('node:dns/promises');
  const { address } = await lookup(key.host);
  return { ...key, host: address };
}

function errorOf(errno: number): ListenError {
  const [code, message] = getSystemErrorMap().get(errno) ?? ['EINVAL', 'invalid argument'];
  return { code, message };
}
