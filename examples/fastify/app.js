// Fastify 5, unchanged for hypnode. `listen({ port })` binds 'localhost', which Fastify resolves
// itself and listens on every address it gets (127.0.0.1 and ::1 on most machines), one server
// each: every one of those listen() calls is served from a socket the manager owns.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 3000);

const app = Fastify();
app.addHook('onSend', async (_req, reply) => {
  reply.header('x-version', version).header('x-pid', String(process.pid));
});
app.get('/', async () => `hello from fastify, version ${version}, pid ${process.pid}\n`);
app.get('/slow', async () => {
  await new Promise((resolve) => setTimeout(resolve, 300));
  return `slow hello from fastify, version ${version}\n`;
});

await app.listen({ port, ...(process.env.HOST ? { host: process.env.HOST } : {}) });
