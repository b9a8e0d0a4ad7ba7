import { chmodSync, rmSync } from 'node:fs';
import http from 'node:http';
import { OperationError } from '../errors.js';
import { closeKeepingPath, fdOf } from '../sockets.js';
import type { Manager } from '../manager/manager.js';
import { ManagerMetrics } from './metrics.js';
import { statusSummary } from './status-summary.js';

// --admin: the manager's own HTTP endpoint, never on the app's ports, for what watches the
// instance from outside: Prometheus (/metrics), a load balancer's health check (/healthz), and
// anything that wants the instance's figures without a shell (/status, a summary: whoever reaches
// the address may read it). Loopback unless the operator writes another address; a unix socket
// is made 0660.

export interface AdminAddress {
  host: string | null;
  port: number;
  path: string | null;
}

/** `127.0.0.1:9100`, `[::1]:9100`, `9100` (on 127.0.0.1), or `/run/app/admin.sock`. */
export function parseAdminAddress(value: string): AdminAddress {
  if (value.startsWith('/')) return { host: null, port: 0, path: value };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  if (m) return { host: m[1] ?? m[2]!, port: Number(m[3]), path: null };
  return { host: '127.0.0.1', port: Number(value), path: null };
}

export class AdminServer {
  private constructor(
    private readonly server: http.Server,
    private readonly path: string | null,
    /** As the operator wrote it. */
    readonly address: string,
  ) {}

  /** Binds `address`; or, in a successor manager, goes on with the socket its predecessor listened on (`fd`). */
  static async listen(address: string, manager: Manager, fd: number | null = null): Promise<AdminServer> {
    const metrics = new ManagerMetrics(manager);
    const server = http.createServer((req, res) => void answer(req, res, manager, metrics));
    // A scraper or a checker that stalls must not hold the manager's sockets.
    server.requestTimeout = 10_000;
    server.headersTimeout = 10_000;
    const where = parseAdminAddress(address);
    if (where.path && fd === null) rmSync(where.path, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new OperationError(`--admin ${address}: ${err.message}`)));
      if (fd !== null) server.listen({ fd }, resolve);
      else if (where.path) server.listen(where.path, resolve);
      else server.listen(where.port, where.host ?? undefined, resolve);
    });
    if (where.path) chmodSync(where.path, 0o660);
    server.on('error', () => {});
    return new AdminServer(server, where.path, address);
  }

  /** The listening socket, for a successor manager to go on with. */
  get fd(): number {
    const fd = fdOf(this.server);
    if (fd < 0) throw new Error('the admin socket is closed');
    return fd;
  }

  /** A successor answers from now on: stop accepting, keeping a unix socket's path. */
  leave(): void {
    if (this.path) void closeKeepingPath(this.server, this.path);
    else this.server.close();
  }

  /** The port it listens on (0 for a unix socket). */
  get port(): number {
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
    if (this.path) rmSync(this.path, { force: true });
  }
}

async function answer(req: http.IncomingMessage, res: http.ServerResponse, manager: Manager, metrics: ManagerMetrics): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'only GET\n');
  try {
    switch (path) {
      case '/metrics':
        return send(res, 200, metrics.contentType, await metrics.text());
      case '/healthz': {
        // Serving: a ready worker of the current generation, and no stop begun (--stop-delay). A
        // manager that handed over after an upgrade answers for its successor: a check it accepted
        // on the shared socket just before it stopped accepting must not pull a serving host.
        const state = manager.handedOver ? 'serving' : manager.status().state;
        return send(res, state === 'serving' ? 200 : 503, 'text/plain', `${state}\n`);
      }
      case '/status':
        return send(res, 200, 'application/json', `${JSON.stringify(statusSummary(manager.status()))}\n`);
      default:
        return send(res, 404, 'text/plain', 'not found: /metrics, /healthz or /status\n');
    }
  } catch (err) {
    send(res, 500, 'text/plain', `${(err as Error).message}\n`);
  }
}

/**
 * A connection per request: a scraper or checker never has an idle keep-alive connection for the
 * manager to close under it (an upgrade hands the socket to a new manager, and the old one's
 * connections end with it), and these requests come seconds apart.
 */
function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', connection: 'close' });
  res.end(body);
}
