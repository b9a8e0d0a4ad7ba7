import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { fileURLToPath } from 'node:url';
import { isHeldSocket, isLiveSocket } from '../protocol/held-socket.js';

// Apps that listen on a unix socket path commonly remove the file first (a stale socket from a
// crash would make bind() fail) and again when their server closes. Under hypnode the socket
// belongs to the manager and outlives every worker, so either removal, by a new worker on reload
// or by an old one as it drains, would take the live socket's name away: clients would get
// ENOENT until the manager stopped. So the manager gives each unix socket it binds a second name,
// a hard link beside it, and in a worker removing a path that is the same inode as its link does
// nothing: the app's intent, "no stale socket in my way", already holds. So does removing a
// socket that a live socket is bound to (the manager's, in the moment between its bind and its
// keep link, while another worker starts): only a stale file is in anyone's way.

type Fn = (...args: unknown[]) => unknown;

/** Makes fs.unlink and fs.rm (sync, callback and promise forms) leave held sockets alone. */
export function guardHeldSockets(): void {
  const held = (path: unknown) => {
    const p = typeof path === 'string' ? path : path instanceof URL ? fileURLToPath(path) : Buffer.isBuffer(path) ? path.toString() : null;
    return p !== null && (isHeldSocket(p) || isLiveSocket(p));
  };
  const patch = (target: object, name: string, skipped: (args: unknown[]) => unknown) => {
    const original = (target as Record<string, Fn>)[name]!;
    (target as Record<string, Fn>)[name] = function (this: unknown, ...args: unknown[]) {
      return held(args[0]) ? skipped(args) : original.apply(this, args);
    };
  };
  const callBack = (args: unknown[]) => {
    const cb = args[args.length - 1];
    if (typeof cb === 'function') process.nextTick(cb as Fn, null);
  };
  patch(fs, 'unlinkSync', () => undefined);
  patch(fs, 'rmSync', () => undefined);
  patch(fs, 'unlink', callBack);
  patch(fs, 'rm', callBack);
  patch(fs.promises, 'unlink', async () => undefined);
  patch(fs.promises, 'rm', async () => undefined);
  // `import { unlinkSync } from 'node:fs'` in the app binds the exports, not the object.
  syncBuiltinESMExports();
}
