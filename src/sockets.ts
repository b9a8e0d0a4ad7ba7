import { linkSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';

// Questions about sockets that both the manager and the CLI ask, and one thing an upgrade does.

/** True when something accepts connections on the unix socket `path`. */
export function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The file descriptor under a connected net.Socket or a listening net.Server (node keeps it in its internal handle), or -1. */
export function fdOf(socket: net.Socket | net.Server): number {
  return (socket as unknown as { _handle?: { fd?: number } | null })._handle?.fd ?? -1;
}

/**
 * Stops `server` accepting on the unix socket `path` and keeps the path, which libuv removes when
 * it closes a socket it bound: for a successor manager that goes on with the same socket. A second
 * name keeps the socket file while libuv removes the first, and is renamed back over it at once.
 * Resolves once the server's open connections have closed.
 */
export function closeKeepingPath(server: net.Server, path: string): Promise<void> {
  const keep = `${path}.handover`;
  rmSync(keep, { force: true });
  linkSync(path, keep);
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  renameSync(keep, path);
  // A socket adopted from a fd (a successor's) has no path for libuv to remove: both names are
  // then links to one file, and rename(2) between them does nothing, leaving the second behind.
  rmSync(keep, { force: true });
  return closed;
}
