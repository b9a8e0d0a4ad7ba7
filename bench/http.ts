import http from 'node:http';
import net from 'node:net';

// The rig's own small HTTP client, loopback only: one request at a time, on a new connection
// unless an agent is given, with the version and pid the bench apps put in their headers.

export const HOST = '127.0.0.1';

export interface Answer {
  status: number;
  version: string | null;
  pid: string | null;
}

export interface RequestOptions {
  path?: string;
  agent?: http.Agent;
  timeoutMs: number;
}

/** Resolves with the answer, or rejects with an error whose `code` says what went wrong (TIMEOUT for ours). */
export function request(port: number, o: RequestOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: HOST,
        port,
        path: o.path ?? '/',
        agent: o.agent ?? false,
        headers: o.agent ? {} : { connection: 'close' },
      },
      (res) => {
        res.resume();
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, version: header(res, 'x-version'), pid: header(res, 'x-pid') }));
      },
    );
    req.setTimeout(o.timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end();
  });
}

function header(res: http.IncomingMessage, name: string): string | null {
  const v = res.headers[name];
  return typeof v === 'string' ? v : null;
}

/** Polls until the app answers 200; false if it has not after `capMs`. */
export async function waitForAnswer(port: number, capMs: number): Promise<boolean> {
  const deadline = performance.now() + capMs;
  while (performance.now() < deadline) {
    const ok = await request(port, { timeoutMs: 1000 }).then((a) => a.status === 200, () => false);
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

/** A port the kernel just handed out, so that runs never collide on fixed ports. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
