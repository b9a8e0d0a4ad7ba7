// Hono on @hono/node-server, unchanged for hypnode: `serve()` creates a node:http server and
// listens, and that listen() is served from a socket the manager owns.
import { readFileSync } from 'node:fs';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 3000);

const app = new Hono();
app.use(async (c, next) => {
  await next();
  c.header('x-version', version);
  c.header('x-pid', String(process.pid));
});
app.get('/', (c) => c.text(`hello from hono, version ${version}, pid ${process.pid}\n`));
app.get('/slow', async (c) => {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return c.text(`slow hello from hono, version ${version}\n`);
});

serve({ fetch: app.fetch, port, hostname: process.env.HOST }, (info) => console.log(`hono version ${version} listening on ${info.port}`));
