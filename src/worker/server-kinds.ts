import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';

// Which protocol an app's server speaks, for the drain and the readiness probe.

// node:http2 exports no server classes: these are how its servers are known.
const http2Classes = [http2.createServer(), http2.createSecureServer()].map((s) => s.constructor);

export function isHttpServer(server: net.Server): boolean {
  return server instanceof http.Server || server instanceof https.Server;
}

/** node:http2's servers, and so gRPC's (@grpc/grpc-js builds on them). */
export function isHttp2Server(server: net.Server): boolean {
  return http2Classes.some((c) => server instanceof c);
}

export function isTlsServer(server: net.Server): boolean {
  return server instanceof tls.Server;
}
