import { join } from 'node:path';
import { test } from 'node:test';
import { brokenDeployUnderLoad, editFile, startFramework, type FrameworkSpec } from '../support/frameworks.js';
import { reloadUnderLoad } from '../support/reload-under-load.js';

// Issue #10, point 4: NestJS 12 on Express, `NestFactory.create()` then `app.listen()`. A
// provider that fails as Nest builds the module (a database that cannot be reached) makes Nest
// log the error and exit before it listens: the deploy is refused with Nest's own message.

const NEST: FrameworkSpec = {
  name: 'nestjs',
  app: 'app.js',
  env: (port) => ({ PORT: String(port), HOST: '127.0.0.1' }),
};

test('nestjs: reloads under load fail no request', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, NEST);
  await reloadUnderLoad(fw.h, fw.deploy, [{ port: fw.port }]);
});

test('nestjs: a provider that throws at start is refused under load', { timeout: 600_000 }, async (t) => {
  const fw = await startFramework(t, NEST);
  await brokenDeployUnderLoad(fw, '2', {
    breakIt: () =>
      editFile(join(fw.dir, 'app.js'), (code) =>
        code.replace("useFactory: () => process.env.APP_VERSION ?? 'dev'", "useFactory: () => { throw new Error('cannot reach the database (broken deploy)'); }"),
      ),
    error: /ExceptionHandler.*\n?.*cannot reach the database \(broken deploy\)/,
  }, t);
});
