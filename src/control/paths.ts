import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { UsageError } from '../errors.js';
import type { InstancePaths } from '../protocol/control.js';

// How `hypnode reload app.js` finds the manager that `hypnode start app.js` started: both derive
// the control socket's name from the app's path as given (and the instance name, if any).

/** A unit made by `hypnode unit` has RuntimeDirectory=hypnode/NAME: systemd makes it and says so. */
const UNIT_DIR = /\/hypnode\/[^/]+\/?$/;

/** Where `hypnode start` puts its control socket. */
export function runtimeDir(configured: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return configured;
  const unitDir = env.RUNTIME_DIRECTORY?.split(':').find((d) => UNIT_DIR.test(d));
  if (unitDir) return unitDir;
  return defaultDir(env);
}

/**
 * Where the other commands look, in order: where `start` would have put it, then the runtime
 * directory of every unit made by `hypnode unit` (a shell has no RUNTIME_DIRECTORY).
 */
export function candidateDirs(configured: string | null, env: NodeJS.ProcessEnv = process.env): string[] {
  if (configured) return [configured];
  const dirs = [runtimeDir(null, env)];
  for (const root of ['/run/hypnode', env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, 'hypnode') : null]) {
    if (!root || !existsSync(root)) continue;
    try {
      for (const entry of readdirSync(root, { withFileTypes: true })) if (entry.isDirectory()) dirs.push(join(root, entry.name));
    } catch {
      // Not ours to read: the socket there is not ours to use either.
    }
  }
  return [...new Set(dirs)];
}

function defaultDir(env: NodeJS.ProcessEnv): string {
  const uid = process.getuid?.() ?? 0;
  // Root's instances live in one place whatever the caller's session says, so that a root shell
  // and a system service agree on where the socket is.
  if (uid === 0) return '/run/hypnode';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'hypnode');
  return join(tmpdir(), `hypnode-${uid}`);
}

/** Longest path a unix socket address can hold on Linux (108 bytes with the trailing NUL). */
const MAX_SOCKET_PATH = 107;

export function instancePaths(app: string, name: string | null, dir: string): InstancePaths {
  const hash = createHash('sha256').update(`${app}\0${name ?? ''}`).digest('hex').slice(0, 12);
  const stem = basename(app).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 32);
  const socket = join(dir, `${stem}${name ? `.${name}` : ''}.${hash}.sock`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new UsageError(`control socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes: choose a shorter --runtime-dir`);
  }
  return { dir, socket, label: name ? `${app} (${name})` : app };
}
