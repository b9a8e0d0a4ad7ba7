import http from 'node:http';
import type net from 'node:net';
import { http2, https, tls } from './lazy-builtins.js';

// Which protocol an app's server speaks, for the drain and the readiness probe. A node:http
// server (the usual one) is none of the others: it is told without loading them.

/** node:http2 exports no server classes: these are how its servers are known. */
let http2Classes: Function[] | null = null;

export function isHttpServer(server: net.Server): boolean {
  return server instanceof http.Server || server instanceof https().Server;
}

/** node:http2's servers, and so gRPC's (@grpc/grpc-js builds on them). */
export function isHttp2Server(server: net.Server): boolean {
  if (server instanceof http.Server) return false;
  http2Classes ??= [http2().createServer(), http2().createSecureServer()].map((s) => s.constructor);
  return http2Classes.some((c) => server instanceof c);
}

export function isTlsServer(server: net.Server): boolean {
  return !(server instanceof http.Server) && server instanceof tls().Server;
}
