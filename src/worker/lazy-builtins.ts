import { createRequire } from 'node:module';

// node:tls, node:https and node:http2, loaded on first use. The preload runs before every app and
// its start is on the way to the first answer: loading these three up front cost each worker
// some 10 to 25 ms (and their memory) though most apps serve plain HTTP. An app that serves TLS
// or HTTP/2 has loaded them itself before its server exists, so there they cost nothing.

const load = createRequire(import.meta.url);

export const tls = (): typeof import('node:tls') => load('node:tls');
export const https = (): typeof import('node:https') => load('node:https');
export const http2 = (): typeof import('node:http2') => load('node:http2');
