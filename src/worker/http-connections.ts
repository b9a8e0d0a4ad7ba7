import type http from 'node:http';
import type net from 'node:net';

// node's HTTP server keeps a list of its HTTP/1 connections, idle or busy (for its request
// timeouts and closeIdleConnections), under a symbol of its own. The drain reads it there rather
// than keep a list of its own: a 'connection' listener and a 'close' listener on each socket cost
// 2.5 % of new-connection throughput (measured: both builds side by side, each under its own wrk,
// 6 rounds). A connection leaves node's list once upgraded (drain.ts keeps those).

const CONNECTIONS = 'http.server.connections';

interface ConnectionsList {
  /** The connections' parsers, each holding its socket. */
  all(): { socket?: net.Socket | null }[];
}

/** The open HTTP/1 connections of `server`, as node's http keeps them. */
export function httpConnections(server: http.Server): net.Socket[] {
  const key = Object.getOwnPropertySymbols(server).find((s) => s.description === CONNECTIONS);
  const list = key && (server as unknown as Record<symbol, ConnectionsList | undefined>)[key];
  if (!list) return [];
  const sockets: net.Socket[] = [];
  for (const parser of list.all()) if (parser.socket) sockets.push(parser.socket);
  return sockets;
}
