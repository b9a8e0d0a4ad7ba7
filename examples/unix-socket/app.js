// An app behind a reverse proxy, listening on a unix socket path. It does what many such apps do:
// it removes a stale socket file before listen() and removes its socket when it closes. Under
// hypnode both would remove the socket the manager keeps open for the next generation; hypnode
// makes them harmless (see "Unix socket paths" in the README), so the app runs unchanged.
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const path = process.env.SOCKET_PATH ?? new URL('./app.sock', import.meta.url).pathname;

const server = http.createServer((req, res) => {
  const reply = () => {
    res.writeHead(200, { 'x-version': version, 'x-pid': String(process.pid) });
    res.end(`hello over a unix socket, version ${version}, pid ${process.pid}\n`);
  };
  if (req.url === '/slow') setTimeout(reply, 300);
  else reply();
});
rmSync(path, { force: true });
server.on('close', () => rmSync(path, { force: true }));
server.listen(path, () => console.log(`unix-socket version ${version} listening on ${path}`));
