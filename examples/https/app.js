// An HTTPS app, unchanged for hypnode. The certificate and key are read once, at start: a
// reload starts new workers, which read the renewed files, so certificate renewal is
// `hypnode reload` (or `systemctl reload`) with no connection refused. To try it with a
// throwaway certificate: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
//   -nodes -days 30 -keyout key.pem -out cert.pem -subj /CN=localhost
import { readFileSync } from 'node:fs';
import https from 'node:https';

const here = (name) => new URL(`./${name}`, import.meta.url);
const version = readFileSync(here('version.txt'), 'utf8').trim();
const port = Number(process.env.PORT ?? 3443);
const tls = {
  cert: readFileSync(process.env.TLS_CERT ?? here('cert.pem')),
  key: readFileSync(process.env.TLS_KEY ?? here('key.pem')),
};

const server = https.createServer(tls, (req, res) => {
  const reply = () => {
    res.writeHead(200, { 'x-version': version, 'x-pid': String(process.pid) });
    res.end(`hello over TLS, version ${version}, pid ${process.pid}\n`);
  };
  if (req.url === '/slow') setTimeout(reply, 300);
  else reply();
});
server.listen(port, process.env.HOST, () => console.log(`https version ${version} listening on ${port}`));
