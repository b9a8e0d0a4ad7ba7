import http from 'node:http';
import net from 'node:net';
import { httpConnections } from './http-connections.js';
import { closeHttp2Server, Http2Sessions } from './http2-sessions.js';
import { closeWebSocket, endEventStream } from './long-lived.js';
import { PROBE_USER_AGENT } from './ready-probe.js';
import { isHttp2Server, isHttpServer, isTlsServer } from './server-kinds.js';
import { SocketList } from './socket-list.js';
import { countAnswer } from './traffic.js';

// Tracks the app's servers and their connections, and drains them without failing a request:
// stop accepting, let in-flight requests finish, answer busy keep-alive connections with
// `Connection: close`, and close a keep-alive connection only after it sat idle for a while,
// because closing it sooner races with a request the client already has on the wire (measured:
// sweeping idle connections every 50 ms reset 1 request in 13k; closing only after ~1 s idle: 0).
// WebSockets and event streams, which never end by themselves, are closed cleanly (long-lived.ts),
// and HTTP/2 sessions are told to go away (http2-sessions.ts).

interface HttpSocket extends net.Socket {
  _httpMessage?: http.ServerResponse | null;
  /** Set while node's HTTP parser owns the socket; null once upgraded (WebSocket) or freed. */
  parser?: unknown;
}

interface CountingServer extends net.Server {
  /** What net.Server counts its open connections in (getConnections() reads it too). */
  _connections: number;
}

interface IdleMark {
  bytesRead: number;
  since: number;
}

const SWEEP_EVERY_MS = 100;

export class ConnectionTracker {
  private readonly servers = new Set<net.Server>();
  /** TLS sockets that carry HTTP: node keeps no list of those of an HTTP/2 server (allowHTTP1). */
  private readonly tlsSockets = new SocketList<HttpSocket>();
  /** Plain HTTP connections the app upgraded (WebSockets): node's list lets go of them. */
  private readonly upgraded = new SocketList<HttpSocket>();
  private idle = new WeakMap<HttpSocket, IdleMark>();
  private draining = false;
  private drained: (() => void) | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private readonly http2: Http2Sessions;
  requests = 0;

  constructor(private readonly idleCloseAfterMs: number) {
    this.http2 = new Http2Sessions(idleCloseAfterMs, () => this.requests++);
  }

  /** The connections the servers accepted that are still open (net counts them for each server). */
  get open(): number {
    let open = 0;
    for (const server of this.servers) open += (server as CountingServer)._connections;
    return open;
  }

  track(server: net.Server): void {
    if (this.servers.has(server)) return;
    this.servers.add(server);
    // A server closes once it stops listening and its last connection has ended.
    server.on('close', () => this.checkDrained());
    if (isTlsServer(server)) {
      const tlsSockets = this.tlsSockets;
      // One function for every socket, not a closure each.
      const forget = function (this: HttpSocket): void {
        tlsSockets.delete(this);
      };
      server.on('secureConnection', (socket: HttpSocket) => {
        tlsSockets.add(socket);
        socket.on('close', forget);
      });
    } else if (server instanceof http.Server) {
      this.trackUpgrades(server);
    }
    // http's close() drops idle keep-alive connections at once (closeIdleConnections, node 19+):
    // the race above. Apps and frameworks call it while a drain runs (fastify closes the servers
    // of its other addresses when its first one closes); then the sweep closes them instead.
    const closeIdle = (server as Partial<http.Server>).closeIdleConnections;
    if (typeof closeIdle === 'function') {
      (server as http.Server).closeIdleConnections = () => {
        if (!this.draining) closeIdle.call(server);
      };
    }
    if (isHttp2Server(server)) this.http2.track(server);
    if (isHttpServer(server)) {
      server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
        if (req.headers['user-agent'] !== PROBE_USER_AGENT) {
          this.requests++;
          countAnswer(res);
        }
        if (this.draining) res.shouldKeepAlive = false;
      });
    }
  }

  /**
   * Keeps the sockets the app upgrades, beside its own 'upgrade' listener only: node refuses an
   * upgrade nobody listens for, and must go on doing so for an app that listens for none.
   */
  private trackUpgrades(server: http.Server): void {
    const upgraded = this.upgraded;
    const forget = function (this: HttpSocket): void {
      upgraded.delete(this);
    };
    const keep = (_req: http.IncomingMessage, socket: HttpSocket) => {
      upgraded.add(socket);
      socket.on('close', forget);
    };
    const hook = () => {
      if (!server.listeners('upgrade').includes(keep)) server.prependListener('upgrade', keep);
    };
    if (server.listenerCount('upgrade') > 0) hook();
    server.on('newListener', (event: string | symbol, listener: unknown) => {
      if (event === 'upgrade' && listener !== keep) hook();
    });
    server.on('removeListener', (event: string | symbol) => {
      if (event === 'upgrade' && server.listeners('upgrade').every((l) => l === keep)) server.removeListener('upgrade', keep);
    });
  }

  /**
   * Lets the app say goodbye (`farewell`: WebSocket close frames, SSE end events, closing its own
   * servers), stops accepting (`stoppedAccepting` runs then), and calls `drained` once no server
   * listens and the last connection has ended, however the app itself closed its servers.
   */
  drain(farewell: () => void, stoppedAccepting: () => void, drained: () => void): void {
    if (this.draining) return;
    this.draining = true;
    this.drained = drained;
    farewell();
    this.http2.drain();
    for (const server of this.servers) {
      if (server.listening) isHttp2Server(server) ? closeHttp2Server(server) : server.close();
    }
    stoppedAccepting();
    this.sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS);
    this.sweep();
    this.checkDrained();
  }

  /** The drain is called off (the servers accept again): connections are kept alive as before. */
  resume(): void {
    this.draining = false;
    this.http2.resume();
    this.drained = null;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
    this.idle = new WeakMap();
  }

  private checkDrained(): void {
    if (!this.drained || this.open > 0 || [...this.servers].some((s) => s.listening)) return;
    const drained = this.drained;
    this.drained = null;
    if (this.sweeper) clearInterval(this.sweeper);
    drained();
  }

  private *httpSockets(): Iterable<HttpSocket> {
    for (const server of this.servers) if (server instanceof http.Server) yield* httpConnections(server);
    yield* this.upgraded;
    yield* this.tlsSockets;
  }

  private sweep(): void {
    const now = Date.now();
    for (const socket of this.httpSockets()) {
      if (socket.parser === null || socket.parser === undefined) {
        closeWebSocket(socket); // upgraded: not HTTP any more
        continue;
      }
      const res = socket._httpMessage;
      if (res) {
        if (!res.headersSent) res.shouldKeepAlive = false;
        else endEventStream(res, socket);
        this.idle.delete(socket);
        continue;
      }
      const mark = this.idle.get(socket);
      if (!mark || mark.bytesRead !== socket.bytesRead) {
        this.idle.set(socket, { bytesRead: socket.bytesRead, since: now });
      } else if (now - mark.since >= this.idleCloseAfterMs) {
        socket.destroy();
      }
    }
  }
}
