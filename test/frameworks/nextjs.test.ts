import { join } from 'node:path';
import { test } from 'node:test';
import { brokenDeployUnderLoad, editFile, startFramework, type FrameworkSpec } from '../support/frameworks.js';
import { reloadUnderLoad } from '../support/reload-under-load.js';

// Issue #10, point 4: Next.js 16 as a new user runs it, `next start` unchanged. Next calls
// listen() first and loads its config and handlers afterwards, so an open port says nothing about
// whether the app will answer: a config that throws kills every new worker just after it listens.
// hypnode must refuse that deploy every time, not one time in three.

const NEXT: FrameworkSpec = {
  name: 'nextjs',
  app: 'node_modules/next/dist/bin/next',
  args: (dir, port) => ['start', dir, '-p', String(port), '-H', '127.0.0.1'],
};

test('next start: reloads under load fail no request', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, NEXT);
  await reloadUnderLoad(fw.h, fw.deploy, [{ port: fw.port }]);
});

test('next start: a next.config.mjs that throws after listen is refused 10 times out of 10', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, NEXT);
  await brokenDeployUnderLoad(fw, '2', {
    breakIt: () => editFile(join(fw.dir, 'next.config.mjs'), () => "throw new Error('next.config.mjs: API_URL is not set (broken deploy)');\n"),
    error: /API_URL is not set \(broken deploy\)/,
    attempts: 10,
  }, t);
});
