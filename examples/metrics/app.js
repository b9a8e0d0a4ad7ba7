// An app with its own Prometheus metrics (prom-client), unchanged but for one line: exposeMetrics()
// hands its registry to hypnode, whose manager serves them on --admin's /metrics, summed over every
// worker (a counter of requests counts each request once, whichever worker took it).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import client from 'prom-client';
import { exposeMetrics } from 'hypnode';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 3000);

const requests = new client.Counter({ name: 'app_requests_total', help: 'Requests the app answered', labelNames: ['path'] });
const duration = new client.Histogram({ name: 'app_request_duration_seconds', help: 'How long the app took to answer', buckets: [0.005, 0.05, 0.5] });
exposeMetrics(client.register);

http
  .createServer((req, res) => {
    // The readiness probe is hypnode's, not a client's: not counted.
    const counted = req.headers['user-agent'] !== 'hypnode-ready-probe';
    const end = duration.startTimer();
    if (counted) requests.inc({ path: req.url === '/slow' ? '/slow' : '/' });
    const reply = () => {
      res.setHeader('x-version', version);
      res.setHeader('x-pid', String(process.pid));
      res.end(`hello from version ${version}\n`);
      if (counted) end();
    };
    if (req.url === '/slow') setTimeout(reply, 300);
    else reply();
  })
  .listen(port);
