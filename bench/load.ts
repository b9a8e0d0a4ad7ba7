import http from 'node:http';
import { request } from './http.js';

// The load a reload happens under: half the clients keep one connection alive, the other half open
// a new connection per request, every `slowEvery`-th request of a client asks for /slow (300 ms in
// the bench apps). Each client sends its next request as soon as the last one ended: a keep-alive
// connection is then never idle for long, as behind a proxy's connection pool, which is what
// catches a drain that only closes idle connections. It ends by itself after `maxMs` or `maxRequests`.

export type FailureKind = 'reset' | 'refused' | 'timeout' | '5xx' | 'other';
export const FAILURE_KINDS: readonly FailureKind[] = ['reset', 'refused', 'timeout', '5xx', 'other'];

export interface Sample {
  /** performance.now() when the request was sent and when it ended. */
  start: number;
  end: number;
  keepAlive: boolean;
  version: string | null;
  failure: FailureKind | null;
}

export interface LoadOptions {
  port: number;
  keepAliveClients: number;
  newConnectionClients: number;
  slowEvery: number;
  timeoutMs: number;
  maxMs: number;
  maxRequests: number;
}

export interface Load {
  /** Every finished request so far, in the order they finished. */
  readonly samples: readonly Sample[];
  /** Ends the load early; resolves once the requests in flight have ended. */
  stop(): Promise<Sample[]>;
}

export function startLoad(o: LoadOptions): Load {
  const samples: Sample[] = [];
  const deadline = performance.now() + o.maxMs;
  let issued = 0;
  let stopped = false;
  const more = () => !stopped && issued < o.maxRequests && performance.now() < deadline;

  const client = async (keepAlive: boolean) => {
    const agent = keepAlive ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
    for (let n = 1; more(); n++) {
      issued++;
      const path = o.slowEvery > 0 && n % o.slowEvery === 0 ? '/slow' : '/';
      samples.push(await sample(o.port, path, agent, o.timeoutMs));
    }
    agent?.destroy();
  };
  const done = Promise.all([
    ...Array.from({ length: o.keepAliveClients }, () => client(true)),
    ...Array.from({ length: o.newConnectionClients }, () => client(false)),
  ]).then(() => samples);
  return {
    samples,
    stop() {
      stopped = true;
      return done;
    },
  };
}

async function sample(port: number, path: string, agent: http.Agent | undefined, timeoutMs: number): Promise<Sample> {
  const start = performance.now();
  const keepAlive = agent !== undefined;
  try {
    const answer = await request(port, { path, agent, timeoutMs });
    const failure = answer.status >= 500 ? '5xx' : answer.status >= 400 ? 'other' : null;
    return { start, end: performance.now(), keepAlive, version: failure ? null : answer.version, failure };
  } catch (err) {
    return { start, end: performance.now(), keepAlive, version: null, failure: classify(err) };
  }
}

function classify(err: unknown): FailureKind {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'ECONNREFUSED':
      return 'refused';
    case 'TIMEOUT':
      return 'timeout';
    default:
      return 'other';
  }
}

export function countFailures(samples: readonly Sample[]): Record<FailureKind, number> {
  const counts = Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>;
  for (const s of samples) if (s.failure) counts[s.failure]++;
  return counts;
}
