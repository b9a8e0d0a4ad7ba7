import { readFileSync } from 'node:fs';
import http from 'node:http';

// The app of the traffic-verdict section: what it deploys is read at start from BENCH_MODE_FILE,
// as a release's code would be. Every mode answers 5xx on 1% of the requests for /cart and
// /checkout (a background the old code has too; never on /, the readiness probe's path);
// "broken" answers 500 on 90% of GET /checkout (a third of the load: 30% of all); "slow" answers
// everything 5 times later than "healthy" (25 ms instead of 5: a difference past the verdict's 10 ms
// floor, as a web app's slowdown would be).

const mode = readFileSync(process.env.BENCH_MODE_FILE!, 'utf8').trim();
http.createServer((req, res) => {
  const fail = req.url !== '/' && Math.random() < (mode === 'broken' && req.url === '/checkout' ? 0.9 : 0.01);
  setTimeout(() => {
    res.statusCode = fail ? 500 : 200;
    res.setHeader('x-mode', mode);
    res.end(`${mode}\n`);
  }, mode === 'slow' ? 25 : 5);
}).listen(Number(process.env.PORT), '127.0.0.1');
