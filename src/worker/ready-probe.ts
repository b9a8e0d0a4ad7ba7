import http from 'node:http';
import type http2 from 'node:http2';
import net from 'node:net';
import { http2 as loadHttp2, https, tls } from './lazy-builtins.js';
import { listenPrivately } from './listen-intercept.js';
import { isHttp2Server, isHttpServer, isTlsServer } from './server-kinds.js';

// Listening is not serving: Next.js, for one, calls listen() first and loads its config and
// request handlers afterwards, and dies there if they are broken. So before a worker counts as
// ready, each of its HTTP servers must answer a real request. The request goes through a private
// loopback listener whose connections are handed to the app's own server object, never through
// the shared port (which could reach another worker): the app answers it with everything it
// would use for a client's request. Any status below 500 counts (a 404 or a login redirect shows
// the app's handlers run); a 5xx or a broken connection does not.
//
// An HTTP/2 server (node:http2's, gRPC's) gets the same GET over HTTP/2. One that answers it as a
// gRPC server does (415, or a gRPC content type) is then asked the gRPC health-checking protocol's
// Check for the whole server (service ""): SERVING is ready, and so is UNIMPLEMENTED (an app that
// serves no health service; its gRPC server answered, so it runs); any other answer is not.

export const PROBE_USER_AGENT = 'hypnode-ready-probe';
/** Requests sent for the traffic verdict's sample (--verdict require): counted as the app's traffic, unlike the probe's. */
const SAMPLE_USER_AGENT = 'hypnode-verdict-sample';

const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
/** A HealthCheckRequest for service "" (an empty message), framed: not compressed, length 0. */
const EMPTY_MESSAGE = Buffer.alloc(5);
const GRPC_OK = '0';
const GRPC_UNIMPLEMENTED = '12';
/** The field `status` (1, varint) of a HealthCheckResponse, set to SERVING (1). */
const SERVING = Buffer.from([0x08, 0x01]);

/** Null when every server answered below 500; otherwise why not. No timeout: the manager's ready timeout bounds it. */
export async function probeServers(servers: net.Server[], path: string): Promise<string | null> {
  const failures = await Promise.all(servers.filter((s) => isHttpServer(s) || isHttp2Server(s)).map((s) => probe(s, path)));
  return failures.find((f) => f !== null) ?? null;
}

/**
 * Sends `n` GETs for `path` to each HTTP/1 server, one after the other, through the probe's door:
 * answers for the traffic verdict when too few clients came. Failures are the app's to count.
 */
export async function sendSample(servers: net.Server[], path: string, n: number): Promise<void> {
  for (const server of servers.filter(isHttpServer)) {
    const door = privateDoor(server);
    try {
      const address = await listenOnLoopback(door);
      for (let i = 0; i < n; i++) await request(isTlsServer(server), address, path, SAMPLE_USER_AGENT).catch(() => {});
    } finally {
      door.close();
    }
  }
}

/** A loopback listener whose connections go to `server`, not through the shared port. */
function privateDoor(server: net.Server): net.Server {
  // Its connections are the door's, not counted among the server's (net counts each server's own).
  return net.createServer((socket) => server.emit('connection', socket));
}

async function probe(server: net.Server, path: string): Promise<string | null> {
  const secure = isTlsServer(server);
  const door = privateDoor(server);
  try {
    const address = await listenOnLoopback(door);
    if (isHttp2Server(server)) return await probeHttp2(secure, address, path);
    const status = await request(secure, address, path, PROBE_USER_AGENT);
    return status < 500 ? null : `the readiness probe GET ${path} was answered ${status}`;
  } catch (err) {
    return `the readiness probe GET ${path} failed: ${(err as Error).message}`;
  } finally {
    door.close();
  }
}

function listenOnLoopback(server: net.Server): Promise<net.AddressInfo> {
  const attempt = (host: string) =>
    new Promise<net.AddressInfo>((resolve, reject) => {
      server.once('error', reject);
      listenPrivately(server, 0, host, () => {
        server.off('error', reject);
        resolve(server.address() as net.AddressInfo);
      });
    });
  // A host without IPv4 on its loopback (rare, but containers vary) still has ::1.
  return attempt('127.0.0.1').catch(() => attempt('::1'));
}

function request(secure: boolean, address: net.AddressInfo, path: string, userAgent: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = {
      host: address.address,
      port: address.port,
      path,
      agent: false as const,
      headers: { host: 'localhost', 'user-agent': userAgent, connection: 'close', accept: '*/*' },
      // Named, or node's agent works the name out of the address with its IPv6 pattern, whose first
      // use compiles it: some 15 ms of the worker's way to its first answer. For TLS, the app's
      // certificate is for its real name, not for a loopback address: only the answer matters.
      servername: 'localhost',
    };
    const req = secure ? https().get({ ...options, rejectUnauthorized: false }) : http.get(options);
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
  });
}

interface Http2Answer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

async function probeHttp2(secure: boolean, address: net.AddressInfo, path: string): Promise<string | null> {
  const { address: host, port } = address;
  // The app's certificate is for its real name, not for a loopback address: only the answer matters.
  const session = loadHttp2().connect('http://localhost', {
    createConnection: () => (secure ? tls().connect({ host, port, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['h2'] }) : net.connect(port, host)),
  });
  try {
    const get = await ask(session, { ':method': 'GET', ':path': path, accept: '*/*' });
    const status = Number(get.headers[':status']);
    const grpc = status === 415 || String(get.headers['content-type']).startsWith('application/grpc');
    if (!grpc) return status < 500 ? null : `the readiness probe GET ${path} (HTTP/2) was answered ${status}`;
    const check = await ask(session, { ':method': 'POST', ':path': HEALTH_CHECK, 'content-type': 'application/grpc', te: 'trailers' }, EMPTY_MESSAGE);
    const grpcStatus = String(check.trailers['grpc-status'] ?? check.headers['grpc-status']);
    if (grpcStatus === GRPC_UNIMPLEMENTED) return null;
    if (grpcStatus === GRPC_OK && check.body.subarray(5).equals(SERVING)) return null;
    const said = grpcStatus === GRPC_OK ? 'not SERVING' : `grpc-status ${grpcStatus} ${String(check.trailers['grpc-message'] ?? check.headers['grpc-message'] ?? '')}`.trim();
    return `the gRPC health check ${HEALTH_CHECK} answered ${said}`;
  } finally {
    session.destroy();
  }
}

function ask(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<Http2Answer> {
  return new Promise((resolve, reject) => {
    session.once('error', reject);
    const stream = session.request({ ...headers, 'user-agent': PROBE_USER_AGENT });
    let answer: Http2Answer = { headers: {}, trailers: {}, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    stream.once('response', (h) => (answer = { ...answer, headers: h }));
    stream.once('trailers', (t) => (answer = { ...answer, trailers: t }));
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => {
      session.off('error', reject);
      resolve({ ...answer, body: Buffer.concat(chunks) });
    });
    stream.once('error', reject);
    stream.end(body);
  });
}
