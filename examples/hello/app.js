// A plain node:http app, unchanged for hypnode: it answers with its version and pid.
// The version comes from version.txt beside it (read at start), so a reload shows new code;
// BOOT_DELAY_MS stands for an app that takes a while to boot (connecting to a database, say).
import { readFileSync } from 'node:fs';
import http from 'node:http';

const version = readFileSync(new URL('./version.txt', import.meta.url), 'utf8').trim();
const port = Number(process.env.PORT ?? 3000);

const server = http.createServer((req, res) => {
  const reply = () => {
    res.setHeader('x-version', version);
    res.setHeader('x-pid', String(process.pid));
    res.end(`hello from version ${version}, pid ${process.pid}\n`);
  };
  if (req.url === '/slow') setTimeout(reply, 300);
  else reply();
});
setTimeout(() => server.listen(port, () => console.log(`version ${version} listening on ${port}`)), Number(process.env.BOOT_DELAY_MS ?? 0));
