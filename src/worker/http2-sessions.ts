import type http2 from 'node:http2';
import net from 'node:net';
import { http2 as loadHttp2 } from './lazy-builtins.js';
import { PROBE_USER_AGENT } from './ready-probe.js';

// HTTP/2 sessions of a worker's servers (node:http2's, and those of the servers gRPC builds on
// them). A session is one connection that carries any number of streams (requests), and a busy
// client never lets it go idle: a draining worker must tell each client to go elsewhere. It does
// what grpc-go's GracefulStop and Envoy's drain do: a first GOAWAY whose last stream ID is the
// largest there is (new streams still welcome, but the client opens no more), then a PING; once
// it is answered, every stream the client opened before it saw the GOAWAY has arrived, and the
// final GOAWAY (session.close()) names the last of them. A single GOAWAY at once, as Node 24's
// server.close() sends it, refuses the streams already on the wire (measured: 20 of 400).
// In-flight streams finish; the session ends with its last one.

const MAX_STREAM_ID = 2 ** 31 - 1;

/**
 * Closes `server` (it accepts no more) but not its sessions: Node 24's own close() sends each
 * session its final GOAWAY at once, the race the drain above avoids.
 */
export function closeHttp2Server(server: net.Server): void {
  net.Server.prototype.close.call(server);
}

export class Http2Sessions {
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private draining = false;

  /**
   * @param pingBoundMs how long a client may take to answer the PING before its session gets
   *   its final GOAWAY anyway (Node's own client answers none once it has the first GOAWAY).
   * @param onStream counts a client's stream (the probe's are not counted).
   */
  constructor(
    private readonly pingBoundMs: number,
    private readonly onStream: () => void,
  ) {}

  track(server: net.Server): void {
    server.on('session', (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.once('close', () => this.sessions.delete(session));
      if (this.draining) this.goAway(session);
    });
    server.prependListener('stream', (_stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      if (headers['user-agent'] !== PROBE_USER_AGENT) this.onStream();
    });
  }

  drain(): void {
    if (this.draining) return;
    this.draining = true;
    for (const session of this.sessions) this.goAway(session);
  }

  /** The drain is called off: sessions to come are kept (those told to go away go). */
  resume(): void {
    this.draining = false;
  }

  private goAway(session: http2.ServerHttp2Session): void {
    if (session.closed || session.destroyed) return;
    session.goaway(loadHttp2().constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
    const close = () => session.close();
    setTimeout(close, this.pingBoundMs).unref();
    try {
      session.ping(close);
    } catch {
      // Too many pings in flight, or the session is ending: the timer closes it.
    }
  }
}
