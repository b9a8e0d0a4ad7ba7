import { readFileSync } from 'node:fs';
import http from 'node:http';
import { burn } from './burn.js';

// The trivial app every Node contender serves: it names its version and pid in headers so the
// rig can tell old code from new and count connections per worker. The version is read once at
// start from BENCH_VERSION_FILE, which the rig rewrites before each reload; the word `throw` there
// stands for a deploy whose code fails at start. BENCH_ALLOC_MB makes each process hold that much
// memory, for the memory figures of the scale section. BENCH_LOG=1 writes one short JSON line per
// request to stdout, as pino's default logger does, for the logging section. BENCH_CPU_ITERATIONS
// makes every request burn that fixed amount of CPU (./burn.ts), for the CPU-bound section.

export function serve(): http.Server {
  const version = readFileSync(required('BENCH_VERSION_FILE'), 'utf8').trim();
  if (version === 'throw') throw new Error('bench app: the version file asks this code to fail at start');
  const port = Number(required('PORT'));
  holdMemory(Number(process.env.BENCH_ALLOC_MB ?? 0));
  const log = process.env.BENCH_LOG === '1';
  const cpuIterations = Number(process.env.BENCH_CPU_ITERATIONS ?? 0);

  const server = http.createServer((req, res) => {
    const reply = () => {
      if (cpuIterations > 0) burn(cpuIterations);
      if (log) process.stdout.write(`{"level":30,"time":${Date.now()},"pid":${process.pid},"req":{"method":"${req.method}","url":"${req.url}"},"res":{"statusCode":200},"msg":"request completed"}\n`);
      res.setHeader('x-version', version);
      res.setHeader('x-pid', String(process.pid));
      res.end(`version ${version}, pid ${process.pid}\n`);
    };
    if (req.url === '/slow') setTimeout(reply, 300);
    else reply();
  });
  server.listen(port, '127.0.0.1');
  return server;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`bench app: ${name} is not set`);
  return value;
}

const ballast: Buffer[] = [];

function holdMemory(mb: number): void {
  // Filled, not just allocated: untouched pages would not count in RSS.
  if (mb > 0) ballast.push(Buffer.alloc(mb * 1024 * 1024, 1));
}
