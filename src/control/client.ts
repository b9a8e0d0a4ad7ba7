import net from 'node:net';
import { OperationError } from '../errors.js';
import type { InstancePaths } from './paths.js';
import { LineReader, type Command, type Reply } from './protocol.js';

// The CLI's end of the control channel.

/** True when a manager answers on `socketPath`. */
export function probe(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export type FinalReply = Exclude<Reply, { progress: string }>;

export function sendCommand(paths: InstancePaths, cmd: Command, onProgress: (text: string) => void = () => {}): Promise<FinalReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(paths.socket);
    let final: FinalReply | null = null;
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write(`${JSON.stringify({ cmd })}\n`));
    const reader = new LineReader(
      (line) => {
        const reply = JSON.parse(line) as Reply;
        if ('progress' in reply) onProgress(reply.progress);
        else final = reply;
      },
      () => socket.destroy(new Error('reply line too long')),
    );
    socket.on('data', (chunk: string) => reader.push(chunk));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        reject(new OperationError(`no hypnode instance is running for ${paths.label} (no manager at ${paths.socket})`));
      } else if (err.code === 'EACCES') {
        reject(new OperationError(`permission denied on ${paths.socket}: only the user who started the instance, and root, may control it`));
      } else if (err.code === 'EPIPE' || err.code === 'ECONNRESET') {
        // The kernel took the connection, the manager dropped it unread: what libuv does when the
        // process has no file descriptor left to accept it with.
        reject(new OperationError(`the manager for ${paths.label} dropped the connection unanswered (${err.code}): it may be out of file descriptors, see its log and limits`));
      } else {
        reject(new OperationError(`control channel ${paths.socket}: ${err.message}`));
      }
    });
    socket.once('close', () => {
      // Refused access is no failed reload or stop: it is reported as itself, whatever was asked.
      if (final && !final.ok && final.denied) reject(new OperationError(final.error));
      else if (final) resolve(final);
      else reject(new OperationError(`the manager for ${paths.label} closed the control channel without an answer`));
    });
  });
}
