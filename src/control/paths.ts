import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { UsageError } from '../errors.js';

// How `hypnode reload app.js` finds the manager that `hypnode start app.js` started: both derive
// the control socket's path from the app file's real path (and the instance name, if any).

export function runtimeDir(configured: string | null, env: NodeJS.ProcessEnv = process.env): string {
  if (configured) return configured;
  const uid = process.getuid?.() ?? 0;
  // Root's instances live in one place whatever the caller's session says, so that a root shell
  // and a system service agree on where the socket is.
  if (uid === 0) return '/run/hypnode';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'hypnode');
  return join(tmpdir(), `hypnode-${uid}`);
}

export interface InstancePaths {
  dir: string;
  socket: string;
  label: string;
}

/** Longest path a unix socket address can hold on Linux (108 bytes with the trailing NUL). */
const MAX_SOCKET_PATH = 107;

export function instancePaths(appRealPath: string, name: string | null, dir: string): InstancePaths {
  const hash = createHash('sha256').update(`${appRealPath}\0${name ?? ''}`).digest('hex').slice(0, 12);
  const stem = basename(appRealPath).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 32);
  const socket = join(dir, `${stem}${name ? `.${name}` : ''}.${hash}.sock`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    throw new UsageError(`control socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes: choose a shorter --runtime-dir`);
  }
  return { dir, socket, label: name ? `${appRealPath} (${name})` : appRealPath };
}
