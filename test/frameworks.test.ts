import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { installedExample } from './support/examples.js';
import { exampleApp, freePort, startHypnode } from './support/hypnode.js';
import { reloadUnderLoad } from './support/reload-under-load.js';

// Issue #6, point 1: the apps people already have run unchanged, each framework reloaded twice
// under load without a failed request. Each example is a copy with its packages installed.

for (const framework of ['express', 'fastify', 'koa', 'hono']) {
  test(`${framework}: reloads under load fail no request`, async (t) => {
    const { dir, app } = installedExample(t, framework);
    const port = await freePort();
    const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port), HOST: '127.0.0.1' } });
    await reloadUnderLoad(h, dir, [{ port }]);
  });
}

test('plain node:http: reloads under load fail no request', async (t) => {
  const { dir, app } = exampleApp(t, 'hello');
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2'], { env: { PORT: String(port) } });
  await reloadUnderLoad(h, dir, [{ port }]);
});

// Fastify's listen({ port }) binds 'localhost', resolves it itself and opens one more server for
// every further address. This machine maps localhost to 127.0.0.1 only, so the app is given a
// resolver that answers as most machines do (127.0.0.1 and ::1): the second listen(), on ::1 with
// the port of the first, must be served and kept across reloads too.
test('fastify on localhost listens on every address it resolves, each kept across reloads', async (t) => {
  const { dir, app } = installedExample(t, 'fastify');
  const resolver = join(dir, 'localhost-v4-and-v6.mjs');
  writeFileSync(
    resolver,
    `import dns from 'node:dns';
const lookup = dns.lookup;
dns.lookup = function (host, options, callback) {
  if (host !== 'localhost' || typeof options !== 'object' || !options.all) return lookup.apply(this, arguments);
  process.nextTick(callback, null, [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
};
`,
  );
  const port = await freePort();
  const h = await startHypnode(t, app, ['--workers', '2', `--node-args=--import ${resolver}`], { env: { PORT: String(port) } });
  await reloadUnderLoad(h, dir, [{ port, host: '127.0.0.1' }, { port, host: '::1' }]);
});

/** How this Node runs TypeScript: natively (23.6+), with the flag (22.6+), or through tsx. */
function typeScriptNodeArgs(): { how: string; nodeArgs: string } {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major > 23 || (major === 23 && minor >= 6)) return { how: 'types stripped by Node itself', nodeArgs: '' };
  if (major > 22 || (major === 22 && minor >= 6)) return { how: 'types stripped with --experimental-strip-types', nodeArgs: '--experimental-strip-types' };
  return { how: 'through the tsx loader', nodeArgs: `--import ${import.meta.resolve('tsx')}` };
}

test('an app written in TypeScript runs from its .ts source and reloads under load', async (t) => {
  const { dir } = installedExample(t, 'typescript');
  const { how, nodeArgs } = typeScriptNodeArgs();
  t.diagnostic(`Node ${process.version}: TypeScript ${how}`);
  const port = await freePort();
  // The flag overrides the example's hypnode.config.json, which names tsx by package.
  const h = await startHypnode(t, join(dir, 'app.ts'), ['--workers', '2', `--node-args=${nodeArgs}`], { env: { PORT: String(port) } });
  await reloadUnderLoad(h, dir, [{ port }]);
});
