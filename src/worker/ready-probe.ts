import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { listenPrivately } from './listen-intercept.js';

// Listening is not serving: Next.js, for one, calls listen() first and loads its config and
// request handlers afterwards, and dies there if they are broken. So before a worker counts as
// ready, each of its HTTP servers must answer a real request. The request goes through a private
// loopback listener whose connections are handed to the app's own server object, never through
// the shared port (which could reach another worker): the app answers it with everything it
// would use for a client's request. Any status below 500 counts (a 404 or a login redirect shows
// the app's handlers run); a 5xx or a broken connection does not.

export const PROBE_USER_AGENT = 'hypnode-ready-probe';

/** Connections of the probe: not the app's clients, so not counted as theirs. */
export const probeSockets = new WeakSet<net.Socket>();

export function isHttpServer(server: net.Server): boolean {
  return server instanceof http.Server || server instanceof https.Server;
}

/** Null when every server answered below 500; otherwise why not. No timeout: the manager's upgrade timeout bounds it. */
export async function probeServers(servers: net.Server[], path: string): Promise<string | null> {
  const failures = await Promise.all(servers.filter(isHttpServer).map((s) => probe(s, path)));
  return failures.find((f) => f !== null) ?? null;
}

async function probe(server: net.Server, path: string): Promise<string | null> {
  const tls = server instanceof https.Server;
  const door = net.createServer((socket) => {
    probeSockets.add(socket);
    server.emit('connection', socket);
  });
  try {
    const address = await listenOnLoopback(door);
    const status = await request(tls, address, path);
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

function request(tls: boolean, address: net.AddressInfo, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = {
      host: address.address,
      port: address.port,
      path,
      agent: false as const,
      headers: { host: 'localhost', 'user-agent': PROBE_USER_AGENT, connection: 'close', accept: '*/*' },
    };
    // The app's certificate is for its real name, not for a loopback address: only the answer matters.
    const req = tls ? https.get({ ...options, servername: 'localhost', rejectUnauthorized: false }) : http.get(options);
    req.once('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
  });
}
