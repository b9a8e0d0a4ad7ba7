import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { tempDir } from './hypnode.js';

// An app that cannot start while a file `broken` lies beside it: it says why on stderr and exits
// with 1 at boot, as code with a bad import or a missing setting does. Without the file it serves
// as the example apps do (its version and pid in x-version and x-pid).

export const BOOT_ERROR = 'FATAL: broken at boot';

const APP = `
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
const here = (name) => new URL('./' + name, import.meta.url);
if (existsSync(here('broken'))) {
  console.error(${JSON.stringify(BOOT_ERROR)});
  process.exit(1);
}
const version = readFileSync(here('version.txt'), 'utf8').trim();
http.createServer((req, res) => {
  res.setHeader('x-version', version);
  res.setHeader('x-pid', String(process.pid));
  res.end('version ' + version + '\\n');
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

export function bootCrashApp(t: TestContext): { dir: string; app: string } {
  const dir = tempDir(t, 'hypnode-boot-crash-');
  const app = join(dir, 'app.mjs');
  writeFileSync(app, APP);
  writeFileSync(join(dir, 'version.txt'), '1\n');
  writeFileSync(join(dir, 'broken'), '');
  return { dir, app };
}
