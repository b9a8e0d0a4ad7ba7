import http2 from 'node:http2';

// One client with requests in a loop over a single HTTP/2 connection (a node:http2 session or a
// gRPC channel), as a service calling another keeps it. A client does what HTTP/2 asks of it: on
// a GOAWAY it opens no more streams there, and its next request opens a new connection.

/** One answer: when its request was sent, and which version of the app answered it. */
export interface Answer {
  sentAt: number;
  version: string;
}

export interface SessionLoad {
  answers: Answer[];
  failures: string[];
  /** Connections (sessions) the client opened, if it knows. */
  connections: number | null;
  /** Ends the loop; resolves once the requests in flight have ended. */
  stop(): Promise<void>;
}

/** Sends one request; resolves with the version that answered. */
export type Call = () => Promise<string>;

const LOOPS = 4;
const MAX_REQUESTS = 50_000;
const MAX_MS = 120_000;
/** Tries of one request whose stream is refused: each on a session that has not refused one. */
const MAX_ATTEMPTS = 3;

/** Runs `call` in LOOPS concurrent loops, bounded in count and time, until stop(). */
export function loop(call: Call, connections: () => number | null): SessionLoad {
  const load: SessionLoad = { answers: [], failures: [], connections: 0, stop: async () => {} };
  const startedAt = Date.now();
  let stopping = false;
  const one = async () => {
    while (!stopping && load.answers.length + load.failures.length < MAX_REQUESTS && Date.now() - startedAt < MAX_MS) {
      const sentAt = Date.now();
      try {
        load.answers.push({ sentAt, version: await call() });
      } catch (err) {
        load.failures.push((err as Error).message);
      }
    }
  };
  const loops = Promise.all(Array.from({ length: LOOPS }, one));
  load.stop = async () => {
    stopping = true;
    await loops;
    load.connections = connections();
  };
  return load;
}

/** A node:http2 client: GET / answers the version as text. `session` is the open one, for the test to keep. */
export function http2Load(authority: string, options: http2.SecureClientSessionOptions = {}): SessionLoad & { session(): http2.ClientHttp2Session; refused(): number } {
  let session: http2.ClientHttp2Session | null = null;
  let opened = 0;
  let refused = 0;
  const current = () => {
    if (!session || session.closed || session.destroyed) {
      session = http2.connect(authority, options);
      session.on('error', () => {}); // its streams report what failed
      opened++;
    }
    return session;
  };
  const once = (on: http2.ClientHttp2Session): Promise<string> =>
    new Promise((resolve, reject) => {
      const stream = on.request({ ':path': '/' });
      stream.once('response', (headers) => {
        if (headers[':status'] !== 200) reject(new Error(`answered ${headers[':status']}`));
      });
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (body += chunk));
      stream.once('end', () => resolve(body.trim()));
      stream.once('error', reject);
    });
  // A stream the client itself opened a moment after the session's GOAWAY arrived (before its
  // JavaScript heard of it) is refused before it is sent: never processed, so retried on a new
  // connection, as HTTP/2 says (RFC 9113, 8.7) and as gRPC's clients do by themselves. The
  // session that refused it is done with: a retry on it, in the same moment, is refused too.
  const call: Call = async () => {
    for (let attempt = 1; ; attempt++) {
      const on = current();
      try {
        return await once(on);
      } catch (err) {
        const { code, message } = err as Error & { code?: string };
        if (code !== 'ERR_HTTP2_STREAM_ERROR' || !message.includes('REFUSED_STREAM') || attempt === MAX_ATTEMPTS) throw err;
        refused++;
        if (session === on) {
          session = null;
          on.close();
        }
      }
    }
  };
  return Object.assign(loop(call, () => opened), { session: current, refused: () => refused });
}
