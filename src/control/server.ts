import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { OperationError } from '../errors.js';
import type { InstancePaths } from './paths.js';
import { LineReader, parseRequest, type Command, type Reply } from './protocol.js';
import { probe } from './client.js';

// The manager's end of the control channel. Only the instance's owner (and root) can reach the
// socket: its directory is 0700 and the socket 0600.

export type CommandHandler = (cmd: Command, progress: (text: string) => void) => Promise<Reply>;

export class ControlServer {
  private constructor(
    private readonly server: net.Server,
    readonly paths: InstancePaths,
  ) {}

  static async listen(paths: InstancePaths, handle: CommandHandler): Promise<ControlServer> {
    mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    const running = await probe(paths.socket);
    if (running) throw new OperationError(`hypnode is already running for ${paths.label} (control socket ${paths.socket})`);
    rmSync(paths.socket, { force: true }); // a stale socket left by a manager that was killed
    const server = net.createServer((socket) => serve(socket, handle));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(paths.socket, () => resolve());
    });
    chmodSync(paths.socket, 0o600);
    return new ControlServer(server, paths);
  }

  close(): void {
    this.server.close();
    rmSync(this.paths.socket, { force: true });
  }
}

function serve(socket: net.Socket, handle: CommandHandler): void {
  socket.setEncoding('utf8');
  socket.on('error', () => {}); // a client that went away must not disturb the manager
  const send = (reply: Reply) => {
    if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
  };
  let answered = false;
  const reader = new LineReader(
    (line) => {
      if (answered) return;
      answered = true;
      const request = parseRequest(line);
      if (typeof request === 'string') {
        send({ ok: false, error: request });
        socket.end();
        return;
      }
      handle(request.cmd, (text) => send({ progress: text })).then(
        (reply) => {
          send(reply);
          socket.end();
        },
        (err: Error) => {
          send({ ok: false, error: err.message });
          socket.end();
        },
      );
    },
    () => {
      send({ ok: false, error: 'request too long' });
      socket.destroy();
    },
  );
  socket.on('data', (chunk: string) => reader.push(chunk));
}
