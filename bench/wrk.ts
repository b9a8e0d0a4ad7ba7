import { existsSync } from 'node:fs';
import { runCommand } from './commands.js';
import { HOST } from './http.js';

// Throughput and tail latency with wrk, on one keep-alive connection per client or a new
// connection per request (`Connection: close`). wrk's own text output is parsed: it has no JSON.

export const WRK = '/usr/bin/wrk';
const THREADS = 2;
const CONNECTIONS = 50;

export interface WrkResult {
  requestsPerSec: number;
  p99Ms: number;
  requests: number;
  /** Connect, read, write errors and timeouts as wrk counts them, plus non-2xx/3xx answers. */
  errors: number;
}

export function wrkAvailable(): boolean {
  return existsSync(WRK);
}

export async function runWrk(port: number, seconds: number, newConnections: boolean, env: NodeJS.ProcessEnv): Promise<WrkResult> {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency'];
  if (newConnections) args.push('-H', 'Connection: close');
  const r = await runCommand(WRK, [...args, `http://${HOST}:${port}/`], env, (seconds + 15) * 1000);
  if (r.code !== 0) throw new Error(`wrk failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.output}`);
  return parseWrk(r.output);
}

function parseWrk(text: string): WrkResult {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const p99 = /^\s*99%\s+([\d.]+)(us|ms|s)\b/m.exec(text);
  const scale = { us: 0.001, ms: 1, s: 1000 } as const;
  const result = {
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    p99Ms: p99 ? Number(p99[1]) * scale[p99[2] as keyof typeof scale] : NaN,
    requests: num(/(\d+) requests in/),
    errors: socketErrors + (num(/Non-2xx or 3xx responses: (\d+)/) || 0),
  };
  if (Number.isNaN(result.requestsPerSec) || Number.isNaN(result.p99Ms)) throw new Error(`unexpected wrk output: ${text}`);
  return result;
}

export async function wrkVersion(): Promise<string> {
  // `wrk --version` prints its banner and exits 1.
  const r = await runCommand(WRK, ['--version'], process.env, 5000);
  return /^wrk (\S+)/.exec(r.output)?.[1] ?? 'unknown';
}
