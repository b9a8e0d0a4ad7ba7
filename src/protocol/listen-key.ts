// Where a listen() call wants to accept: a TCP address or a unix socket path. The worker names
// the key, the manager binds (or finds) the socket for it; the same id names it everywhere.

export type ListenKey =
  | { kind: 'tcp'; host: string | null; port: number; ipv6Only: boolean }
  | { kind: 'unix'; path: string };

export function listenKeyId(key: ListenKey): string {
  return key.kind === 'unix' ? `unix:${key.path}` : `tcp:${key.host ?? '*'}:${key.port}${key.ipv6Only ? ':v6only' : ''}`;
}
