import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { OperationError } from '../errors.js';
import { parseRequest, type FinalReply, type Reply, type Request } from '../protocol/control.js';
import { codeOf } from '../protocol/error-codes.js';
import { LineReader } from '../protocol/lines.js';
import { answers, closeKeepingPath, fdOf } from '../sockets.js';
import { adoptLock, lockInstance, type InstanceLock } from './instance-lock.js';
import type { InstancePaths } from '../protocol/control.js';
import { canCheckPeers, peerRefusal } from './peer.js';
import { ensurePrivateDir } from './runtime-dir.js';

// The manager's end of the control channel. Only the instance's owner (and root) can reach the
// socket: its directory is private and the socket 0600; the peer's credentials are checked too.

export type CommandHandler = (request: Request, progress: (text: string) => void) => Promise<FinalReply>;

/**
 * A client has this long to send its request line after it connects. The CLI sends it at once;
 * a client that connects and says nothing must not hold a connection forever.
 */
const REQUEST_TIMEOUT_MS = 5000;
const ACCEPT_WARNING_INTERVAL_MS = 10_000;

/** After leave(), how long the answers still being written may take. */
const LEAVE_WAIT_MS = 5000;

export class ControlServer {
  /** Resolves once leave() was called and every open connection has closed (or after a while). */
  left: Promise<void> | null = null;

  private constructor(
    private readonly server: net.Server,
    private readonly lock: InstanceLock,
    readonly paths: InstancePaths,
  ) {}

  /** `warn` hears of connections the manager could not accept, at most once per 10 s. */
  static async listen(paths: InstancePaths, handle: CommandHandler, warn: (text: string) => void): Promise<ControlServer> {
    ensurePrivateDir(paths.dir);
    const lock = await lockInstance(paths);
    try {
      // Holding the lock, a socket that answers is a manager in another network namespace (whose
      // lock we cannot see); one that does not was left by a manager that was killed.
      if (await answers(paths.socket)) throw new OperationError(`hypnode is already running for ${paths.label} (control socket ${paths.socket})`, 'ALREADY_RUNNING');
      rmSync(paths.socket, { force: true });
      // Without the addon the peer check is off: loading it says so, once, as a warning.
      canCheckPeers();
      const server = commandServer(handle, warn);
      await listenPrivately(server, paths.socket);
      return new ControlServer(server, lock, paths);
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /** In a successor manager: the socket and lock its predecessor listened on, now its own. */
  static async adopt(paths: InstancePaths, fds: { socketFd: number; lockFd: number | null }, handle: CommandHandler, warn: (text: string) => void): Promise<ControlServer> {
    const lock = fds.lockFd === null ? { fd: null, release() {}, handOver() {} } : adoptLock(fds.lockFd, paths);
    const server = commandServer(handle, warn);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd: fds.socketFd }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new ControlServer(server, lock, paths);
  }

  /** What a successor needs to go on answering here: the listening fds. */
  get fds(): { socketFd: number; lockFd: number | null } {
    const socketFd = fdOf(this.server);
    if (socketFd < 0) throw new Error('the control socket is closed');
    return { socketFd, lockFd: this.lock.fd };
  }

  close(): void {
    this.server.close();
    rmSync(this.paths.socket, { force: true });
    this.lock.release();
  }

  /** A successor answers from now on, on the same socket: stop accepting, keeping the path. */
  leave(): void {
    const closed = closeKeepingPath(this.server, this.paths.socket);
    this.lock.handOver();
    this.left = Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, LEAVE_WAIT_MS).unref())]);
  }
}

function commandServer(handle: CommandHandler, warn: (text: string) => void): net.Server {
  const server = net.createServer((socket) => serve(socket, handle));
  // Out of file descriptors, libuv drops pending connections itself (it keeps a spare fd to
  // accept and close them with); only when that fails too does an error come here. It must not
  // bring the manager down, and a burst of them must not flood the log.
  let warnedAt = -Infinity;
  server.on('error', (err) => {
    if (performance.now() - warnedAt < ACCEPT_WARNING_INTERVAL_MS) return;
    warnedAt = performance.now();
    warn(`control channel: a connection was dropped unanswered (${err.message}); more such are not logged for 10 s`);
  });
  return server;
}

/** Binds with a umask that makes the socket 0600 from the start, not only after a chmod. */
async function listenPrivately(server: net.Server, path: string): Promise<void> {
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A unix socket is bound within listen() itself, so the umask need not outlive the call.
  const umask = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(umask);
  }
  await listening;
  chmodSync(path, 0o600);
}

function serve(socket: net.Socket, handle: CommandHandler): void {
  socket.setEncoding('utf8');
  socket.on('error', () => {}); // a client that went away must not disturb the manager
  const send = (reply: Reply) => {
    if (socket.writable) socket.write(`${JSON.stringify(reply)}\n`);
  };
  // The last word, then a half-close: what the client still sends is read and dropped, so that
  // the answer reaches it rather than a reset, and a client that never closes its end is let go.
  const finish = (reply: Reply) => {
    answered = true;
    send(reply);
    socket.end();
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  };
  let answered = false;
  const refusal = peerRefusal(socket);
  if (refusal) return finish({ ok: false, code: 'DENIED', error: refusal, denied: true });
  socket.setTimeout(REQUEST_TIMEOUT_MS, () => socket.destroy());
  const reader = new LineReader(
    (line) => {
      if (answered) return;
      answered = true;
      // A reload may take minutes: from here on the client waits as long as it takes.
      socket.setTimeout(0);
      const request = parseRequest(line);
      if (typeof request === 'string') return finish({ ok: false, code: 'BAD_REQUEST', error: request });
      handle(request, (text) => send({ progress: text })).then(finish, (err: Error) => finish({ ok: false, code: codeOf(err, 'INTERNAL'), error: err.message }));
    },
    () => finish({ ok: false, code: 'BAD_REQUEST', error: 'request too long' }),
  );
  // Only the first line counts: anything after it is dropped unread.
  socket.on('data', (chunk: string) => {
    if (!answered) reader.push(chunk);
  });
}
