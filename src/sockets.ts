import net from 'node:net';

// Two questions about sockets that both the manager and the CLI ask.

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

/** The file descriptor under a connected net.Socket (node keeps it in its internal handle), or -1. */
export function fdOf(socket: net.Socket): number {
  return (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
}
