// Koa 3, unchanged for hypnode: `app.listen()` is served from a socket the manager owns.
import { readFileSync } from 'node:fs';
import Koa from 'koa';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 3000);

const app = new Koa();
app.use(async (ctx) => {
  ctx.set({ 'x-version': version, 'x-pid': String(process.pid) });
  if (ctx.path === '/slow') await new Promise((resolve) => setTimeout(resolve, 300));
  ctx.body = `hello from koa, version ${version}, pid ${process.pid}\n`;
});

app.listen(port, process.env.HOST, () => console.log(`koa version ${version} listening on ${port}`));
