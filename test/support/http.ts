import http from 'node:http';
import { HANG_GUARD_MS } from './hang-guard.js';

// One GET on loopback, as the tests ask the example apps (which name their version and pid in
// x-version and x-pid headers): a new connection each time, so any worker may answer.

export interface Answer {
  status: number;
  pid: number;
  version: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function get(port: number, path = '/', timeoutMs = HANG_GUARD_MS): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, pid: Number(res.headers['x-pid']), version: String(res.headers['x-version']), headers: res.headers, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}
