// An app with two servers: its API on PORT and Prometheus-style metrics on METRICS_PORT. A
// worker is ready once both listen, and both ports stay open across reloads.
import { readFileSync } from 'node:fs';
import http from 'node:http';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 3000);
const metricsPort = Number(process.env.METRICS_PORT ?? 9100);
let served = 0;

const headers = { 'x-version': version, 'x-pid': String(process.pid) };

const api = http.createServer((req, res) => {
  const reply = () => {
    served++;
    res.writeHead(200, headers);
    res.end(`hello from the API, version ${version}, pid ${process.pid}\n`);
  };
  if (req.url === '/slow') setTimeout(reply, 300);
  else reply();
});

const metrics = http.createServer((_req, res) => {
  res.writeHead(200, { ...headers, 'content-type': 'text/plain; version=0.0.4' });
  res.end(`app_requests_total{pid="${process.pid}",version="${version}"} ${served}\n`);
});

api.listen(port, process.env.HOST, () => console.log(`API version ${version} listening on ${port}`));
metrics.listen(metricsPort, process.env.HOST, () => console.log(`metrics version ${version} listening on ${metricsPort}`));
