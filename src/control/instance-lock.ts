import { createHash } from 'node:crypto';
import net from 'node:net';
import { OperationError } from '../errors.js';
import { peerCredentials } from '../native.js';
import { fdOf } from '../sockets.js';
import type { InstancePaths } from './paths.js';

// Two `hypnode start` of one instance at the same moment must not both win, and a control socket
// left by a manager that was killed must be replaced by exactly one of them. A lock file cannot
// do that safely (a stale one would need the same check-then-remove race), so the lock is a unix
// socket in Linux's abstract namespace, named after the control socket: the kernel lets one
// process bind the name, and frees it when that process ends, however it ends. Nothing is ever
// left stale. Elsewhere there is no lock, and the control socket probe alone guards the start.

export interface InstanceLock {
  /** The lock socket's fd, for a successor manager to hold it on; null where there is no lock. */
  readonly fd: number | null;
  release(): void;
}

export async function lockInstance(paths: InstancePaths): Promise<InstanceLock> {
  if (process.platform !== 'linux') return { fd: null, release() {} };
  const name = `\0hypnode-${createHash('sha256').update(paths.socket).digest('hex').slice(0, 32)}`;
  // Anyone may connect to an abstract socket: whoever does is told nothing and let go.
  const server = net.createServer((c) => c.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(name, () => resolve());
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new OperationError(await heldBy(name, paths));
  }
  return held(server);
}

/** A lock handed over by a predecessor manager: listening again names this process its holder. */
export async function adoptLock(fd: number): Promise<InstanceLock> {
  const server = net.createServer((c) => c.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => resolve());
  });
  return held(server);
}

function held(server: net.Server): InstanceLock {
  server.on('error', () => {}); // an accept that fails (out of fds) costs the lock nothing
  server.unref();
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
  return { fd, release: () => server.close() };
}

async function heldBy(name: string, paths: InstancePaths): Promise<string> {
  const holder = await new Promise<{ pid: number; uid: number } | null>((resolve) => {
    const c = net.connect(name, () => {
      try {
        resolve(peerCredentials(fdOf(c)));
      } catch {
        resolve(null); // no addon: the holder goes unnamed
      } finally {
        c.destroy();
      }
    });
    c.once('error', () => resolve(null));
  });
  const own = process.geteuid?.() ?? 0;
  if (holder && holder.uid !== own && holder.uid !== 0) {
    return `cannot start ${paths.label}: its start lock (abstract socket @${name.slice(1)}) is held by another user (uid ${holder.uid}, pid ${holder.pid})`;
  }
  return `hypnode is already running or starting for ${paths.label}${holder ? ` (manager pid ${holder.pid})` : ''}`;
}
