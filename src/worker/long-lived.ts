import type http from 'node:http';
import type net from 'node:net';

// Connections that never end by themselves: WebSockets and server-sent event streams. A draining
// worker would otherwise hold them until the graceful timeout kills it, and the clients would see
// the connection drop (WebSocket code 1006) instead of a close. They are ended cleanly once the
// app's onDrain listeners have had their say, so an app that does nothing gets clean closes too.

const GOING_AWAY = 1001;

interface WsLike {
  readyState: number;
  close(code: number, reason: string): void;
}

/**
 * Closes the WebSocket on `socket` with 1001 (going away), through the `ws` package's own close
 * handshake: `ws` (and what builds on it, such as socket.io) marks the socket with its
 * WebSocket under a symbol described 'websocket'. Other upgraded connections are left to the app.
 */
export function closeWebSocket(socket: net.Socket): void {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'websocket');
  const ws = key && ((socket as unknown as Record<symbol, unknown>)[key] as Partial<WsLike> | undefined);
  if (ws && typeof ws.close === 'function' && ws.readyState === 1) ws.close(GOING_AWAY, 'server going away');
}

/** Ends `res` if it is a server-sent event stream, and its connection, so the client reconnects to a new worker. */
export function endEventStream(res: http.ServerResponse, socket: net.Socket): void {
  // The header as written: getHeader() misses headers given to writeHead() alone.
  const header = (res as http.ServerResponse & { _header?: string | null })._header;
  if (res.writableEnded || typeof header !== 'string' || !/^content-type:\s*text\/event-stream/im.test(header)) return;
  res.end(() => socket.end());
}
