import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { brokenDeployUnderLoad, editFile, startFramework, type FrameworkSpec } from '../support/frameworks.js';
import { reloadUnderLoad } from '../support/reload-under-load.js';

// Issue #10, point 4: SvelteKit 2 built with @sveltejs/adapter-node, `node build/index.js`.
// adapter-node runs the app's `init` hook (hooks.server.js) before it listens, so a deploy whose
// init throws dies before listening and is refused with its own error.

const SVELTEKIT: FrameworkSpec = {
  name: 'sveltekit',
  app: 'build/index.js',
  env: (port) => ({ PORT: String(port), HOST: '127.0.0.1' }),
};

test('sveltekit (adapter-node): reloads under load fail no request', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, SVELTEKIT);
  await reloadUnderLoad(fw.h, fw.deploy, [{ port: fw.port }]);
});

test('sveltekit (adapter-node): an init hook that throws is refused under load', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, SVELTEKIT);
  // The built hook, as a deploy would ship it: the build names its chunk with a hash.
  const entries = join(fw.dir, 'build/server/chunks/entries');
  const hooks = readdirSync(entries).find((f) => f.startsWith('hooks.server') && f.endsWith('.js'));
  if (!hooks) throw new Error(`no built hooks.server chunk in ${entries}`);
  await brokenDeployUnderLoad(fw, '2', {
    breakIt: () =>
      editFile(join(entries, hooks), (code) =>
        code.replace('async function init() {', "async function init() { throw new Error('cannot reach the database (broken deploy)');"),
      ),
    error: /Error: cannot reach the database \(broken deploy\)/,
  }, t);
});
