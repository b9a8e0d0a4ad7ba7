// Express 5, unchanged for hypnode: `app.listen()` is served from a socket the manager owns.
// Like every example: the version comes from version.txt (read at start, so a reload shows new
// code), each answer carries x-version and x-pid, and /slow answers after 300 ms.
import { readFileSync } from 'node:fs';
import express from 'express';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 3000);

const app = express();
app.use((_req, res, next) => {
  res.set({ 'x-version': version, 'x-pid': String(process.pid) });
  next();
});
app.get('/', (_req, res) => res.send(`hello from express, version ${version}, pid ${process.pid}\n`));
app.get('/slow', (_req, res) => setTimeout(() => res.send(`slow hello from express, version ${version}\n`), 300));

app.listen(port, process.env.HOST, () => console.log(`express version ${version} listening on ${port}`));
