import { join } from 'node:path';
import { test } from 'node:test';
import { brokenDeployUnderLoad, editFile, startFramework, type FrameworkSpec } from '../support/frameworks.js';
import { reloadUnderLoad } from '../support/reload-under-load.js';

// Issue #10, point 4: Next.js 16's standalone output, `node .next/standalone/server.js`, with
// .next/static and public copied beside it. Its config is inlined into server.js at build time,
// so a broken config fails the build, not the deploy; a deploy that throws at start is refused.

const STANDALONE: FrameworkSpec = {
  name: 'nextjs-standalone',
  root: '.next/standalone',
  app: 'server.js',
  env: (port) => ({ PORT: String(port), HOSTNAME: '127.0.0.1' }),
};

test('next standalone server.js: reloads under load fail no request', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, STANDALONE);
  await reloadUnderLoad(fw.h, fw.deploy, [{ port: fw.port }]);
});

test('next standalone server.js: a deploy that throws at start is refused under load', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, STANDALONE);
  await brokenDeployUnderLoad(fw, '2', {
    breakIt: () => editFile(join(fw.dir, 'server.js'), (code) => `throw new Error('DATABASE_URL is not set (broken deploy)');\n${code}`),
    error: /DATABASE_URL is not set \(broken deploy\)/,
  }, t);
});
