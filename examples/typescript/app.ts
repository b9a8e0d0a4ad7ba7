// An app written in TypeScript, run from its .ts source: Node 23.6+ strips the types itself,
// Node 22.6+ with `nodeArgs: ["--experimental-strip-types"]`, and any Node >= 20.6 through a
// loader such as tsx (`nodeArgs: ["--import", "tsx"]`); see hypnode.config.json beside it. Only
// erasable syntax is used (no enums or parameter properties), which all three accept.
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';

interface Reply {
  status: number;
  body: string;
}

const version: string = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port: number = Number(process.env.PORT ?? 3000);

function answer(path: string | undefined): Reply {
  return { status: 200, body: `hello from typescript${path === '/slow' ? ' (slow)' : ''}, version ${version}, pid ${process.pid}\n` };
}

const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
  const reply = (): void => {
    const { status, body } = answer(req.url);
    res.writeHead(status, { 'x-version': version, 'x-pid': String(process.pid) });
    res.end(body);
  };
  if (req.url === '/slow') setTimeout(reply, 300);
  else reply();
});
server.listen(port, () => console.log(`typescript version ${version} listening on ${port}`));
