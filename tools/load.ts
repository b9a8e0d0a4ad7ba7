import http from 'node:http';
import https from 'node:https';

// A bounded load generator for the demo, the tests and the benchmark: some clients keep their
// connection alive, others open a new connection per request, and every `slowEvery`-th request
// asks for /slow (the example apps answer it after 300 ms). It stops by itself after `durationMs`
// or `maxRequests`, whichever comes first, and targets loopback only (or a unix socket path).

export interface LoadOptions {
  port?: number;
  host?: '127.0.0.1' | '::1';
  /** Send the requests to this unix socket path instead of host and port. */
  socketPath?: string;
  /** Speak HTTPS, trusting this (PEM) certificate. */
  ca?: string;
  durationMs: number;
  maxRequests: number;
  keepAliveClients?: number;
  newConnectionClients?: number;
  /** Every n-th request of a client goes to /slow (20: 5 %); 0 for none. */
  slowEvery?: number;
  requestTimeoutMs?: number;
}

export interface Sample {
  start: number;
  end: number;
  keepAlive: boolean;
  version: string | null;
  pid: string | null;
  error: string | null;
}

export interface LoadResult {
  total: number;
  failed: number;
  failures: Record<string, number>;
  versions: Record<string, number>;
  samples: Sample[];
}

export interface RunningLoad {
  /** Every finished request so far, in the order they finished. */
  readonly samples: readonly Sample[];
  /** Ends the load early; resolves when every client has finished its request in flight. */
  stop(): Promise<LoadResult>;
  done: Promise<LoadResult>;
}

export function startLoad(opts: LoadOptions): RunningLoad {
  const host = opts.host ?? '127.0.0.1';
  const deadline = Date.now() + opts.durationMs;
  const slowEvery = opts.slowEvery ?? 20;
  const timeout = opts.requestTimeoutMs ?? 15_000;
  const samples: Sample[] = [];
  let issued = 0;
  let stopped = false;
  const more = () => !stopped && Date.now() < deadline && issued < opts.maxRequests;

  const client = async (keepAlive: boolean) => {
    const agent = keepAlive ? new (opts.ca ? https : http).Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
    let n = 0;
    while (more()) {
      issued++;
      n++;
      const path = slowEvery > 0 && n % slowEvery === 0 ? '/slow' : '/';
      samples.push(await request({ host, port: opts.port, socketPath: opts.socketPath, ca: opts.ca, path, agent, keepAlive, timeout }));
    }
    agent?.destroy();
  };
  const clients = [
    ...Array.from({ length: opts.keepAliveClients ?? 4 }, () => client(true)),
    ...Array.from({ length: opts.newConnectionClients ?? 4 }, () => client(false)),
  ];
  const done = Promise.all(clients).then(() => summarize(samples));
  return {
    samples,
    done,
    stop() {
      stopped = true;
      return done;
    },
  };
}

interface RequestOptions {
  host: string;
  port: number | undefined;
  socketPath: string | undefined;
  ca: string | undefined;
  path: string;
  agent: http.Agent | undefined;
  keepAlive: boolean;
  timeout: number;
}

function request(o: RequestOptions): Promise<Sample> {
  const start = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (version: string | null, pid: string | null, error: string | null) => {
      if (settled) return;
      settled = true;
      resolve({ start, end: Date.now(), keepAlive: o.keepAlive, version, pid, error });
    };
    const req = (o.ca ? https : http).request(
      {
        host: o.host,
        port: o.port,
        socketPath: o.socketPath,
        ca: o.ca,
        path: o.path,
        agent: o.agent ?? false,
        headers: o.keepAlive ? {} : { connection: 'close' },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const version = header(res, 'x-version');
          const pid = header(res, 'x-pid');
          finish(version, pid, res.statusCode && res.statusCode < 400 ? null : `HTTP ${res.statusCode}`);
        });
        res.on('error', (err: NodeJS.ErrnoException) => finish(null, null, err.code ?? err.message));
      },
    );
    req.setTimeout(o.timeout, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => finish(null, null, err.code ?? err.message));
    req.end();
  });
}

function header(res: http.IncomingMessage, name: string): string | null {
  const v = res.headers[name];
  return typeof v === 'string' ? v : null;
}

export function summarize(samples: Sample[]): LoadResult {
  const failures: Record<string, number> = {};
  const versions: Record<string, number> = {};
  for (const s of samples) {
    if (s.error) failures[s.error] = (failures[s.error] ?? 0) + 1;
    else if (s.version) versions[s.version] = (versions[s.version] ?? 0) + 1;
  }
  const failed = Object.values(failures).reduce((a, b) => a + b, 0);
  return { total: samples.length, failed, failures, versions, samples };
}

/** Failures by what the client saw, for the benchmark's table. */
export type FailureKind = 'reset' | 'refused' | 'timeout' | '5xx' | 'other';
export const FAILURE_KINDS: readonly FailureKind[] = ['reset', 'refused', 'timeout', '5xx', 'other'];

export function failureKind(error: string): FailureKind {
  if (error === 'ECONNRESET' || error === 'EPIPE') return 'reset';
  if (error === 'ECONNREFUSED') return 'refused';
  if (error === 'TIMEOUT') return 'timeout';
  return /^HTTP 5\d\d$/.test(error) ? '5xx' : 'other';
}

export function countFailureKinds(samples: readonly Sample[]): Record<FailureKind, number> {
  const counts = Object.fromEntries(FAILURE_KINDS.map((k) => [k, 0])) as Record<FailureKind, number>;
  for (const s of samples) if (s.error) counts[failureKind(s.error)]++;
  return counts;
}
