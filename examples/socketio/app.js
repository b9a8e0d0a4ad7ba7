// socket.io on a node:http server. Each worker is a socket.io server of its own, with no shared
// state: clients must use the websocket transport alone (see client.js and README.md), because
// the polling transport's requests of one session would land on different workers.
// When a reload drains a worker, hypnode closes its WebSockets with 1001 (through the `ws`
// package that socket.io uses), and the clients reconnect, to the new generation.
import http from 'node:http';
import { Server } from 'socket.io';

const version = process.env.APP_VERSION ?? 'dev';
const port = Number(process.env.PORT ?? 3000);
const headers = { 'x-version': version, 'x-pid': String(process.pid) };

const server = http.createServer((req, res) => {
  const reply = () => {
    res.writeHead(200, headers);
    res.end(`hello from socket.io, version ${version}, pid ${process.pid}\n`);
  };
  if (req.url === '/slow') setTimeout(reply, 300);
  else reply();
});

const io = new Server(server);
io.on('connection', (socket) => {
  socket.emit('hello', { version, pid: process.pid, transport: socket.conn.transport.name });
  socket.on('echo', (message, answer) => answer({ echo: message, version }));
});

server.listen(port, process.env.HOST, () => console.log(`socket.io version ${version} listening on ${port}`));
