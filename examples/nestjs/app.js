// NestJS on Express, in plain JavaScript: the decorators are applied as the functions they are,
// so the app runs with no compile step. `app.listen()` is served from a socket the manager owns.
// APP_VERSION comes from the environment (hypnode's config file `env`, read again on every
// reload); every answer carries x-version and x-pid, and /slow answers after 300 ms.
import 'reflect-metadata';
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

const VERSION = 'APP_VERSION';

class HelloController {
  constructor(version) {
    this.version = version;
  }

  hello() {
    return `hello from nestjs, version ${this.version}, pid ${process.pid}\n`;
  }

  async slow() {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return `slow hello from nestjs, version ${this.version}\n`;
  }
}
Controller()(HelloController);
Inject(VERSION)(HelloController, undefined, 0);
for (const [method, path] of [['hello', '/'], ['slow', 'slow']]) {
  Get(path)(HelloController.prototype, method, Object.getOwnPropertyDescriptor(HelloController.prototype, method));
}

class AppModule {}
Module({
  controllers: [HelloController],
  // A provider made at start: where a real app would connect to its database, and so where a
  // broken deploy fails (the tests make this factory throw).
  providers: [{ provide: VERSION, useFactory: () => process.env.APP_VERSION ?? 'dev' }],
})(AppModule);

const app = await NestFactory.create(AppModule);
const version = app.get(VERSION);
app.use((_req, res, next) => {
  res.set({ 'x-version': version, 'x-pid': String(process.pid) });
  next();
});
await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? '127.0.0.1');
console.log(`nestjs version ${version} listening on ${await app.getUrl()}`);
