// Long-lived connections: WebSockets (the `ws` package) on / and server-sent events on /events.
// When a reload (or stop) drains this worker, hypnode calls onDrain first: the app says goodbye
// on every connection. Then hypnode itself closes each WebSocket with 1001 (going away) and ends
// each event stream, so an app that does nothing at all gets clean closes too; clients that
// reconnect at once reach the new generation, because this worker has stopped accepting by then.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { onDrain } from 'hypnode';
import { WebSocketServer } from 'ws';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 3000);
const headers = { 'x-version': version, 'x-pid': String(process.pid) };
const streams = new Set();
// A connection accepted just before the drain began can reach a handler after onDrain ran: it
// hears the goodbye at once.
let draining = false;
const goodbyeEvent = `event: goodbye\ndata: ${version}\n\n`;
const goodbyeMessage = JSON.stringify({ goodbye: version });

const server = http.createServer((req, res) => {
  if (req.url === '/events') {
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(`event: hello\ndata: ${version}\n\n`);
    if (draining) res.write(goodbyeEvent);
    streams.add(res);
    res.on('close', () => streams.delete(res));
    return;
  }
  const reply = () => {
    res.writeHead(200, headers);
    res.end(`hello from version ${version}, pid ${process.pid}\n`);
  };
  if (req.url === '/slow') setTimeout(reply, 300);
  else reply();
});

const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.send(JSON.stringify({ hello: version, pid: process.pid }));
  if (draining) ws.send(goodbyeMessage);
  ws.on('message', (data) => ws.send(JSON.stringify({ echo: data.toString(), version })));
});

onDrain(() => {
  draining = true;
  for (const ws of wss.clients) ws.send(goodbyeMessage);
  for (const res of streams) res.write(goodbyeEvent);
});

server.listen(port, process.env.HOST, () => console.log(`websocket version ${version} listening on ${port}`));
