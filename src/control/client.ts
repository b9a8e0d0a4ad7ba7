import net from 'node:net';
import { OperationError } from '../errors.js';
import type { Command, FinalReply, Reply } from '../protocol/control.js';
import { codeOf } from '../protocol/error-codes.js';
import { LineReader, MAX_REPLY_BYTES } from '../protocol/lines.js';
import { managerRefusal, trustDir } from './manager-trust.js';
import type { InstancePaths } from '../protocol/control.js';

// The CLI's end of the control channel.

export interface Answer<C extends Command> {
  reply: FinalReply<C>;
  /** Resolves once the manager has closed the connection (after a stop: once it has exited). */
  closed: Promise<void>;
}

export function sendCommand<C extends Command>(paths: InstancePaths, cmd: C, onProgress: (text: string) => void = () => {}): Promise<FinalReply<C>> {
  return ask(paths, cmd, onProgress).then((a) => a.reply);
}

/** Sends `cmd` and resolves with the final reply as soon as it arrives. */
export function ask<C extends Command>(paths: InstancePaths, cmd: C, onProgress: (text: string) => void = () => {}, node?: string): Promise<Answer<C>> {
  return new Promise((resolve, reject) => {
    const trust = trustDir(paths);
    if ('refusal' in trust) return reject(new OperationError(trust.refusal, 'UNTRUSTED'));
    const socket = net.connect(paths.socket);
    let settled = false;
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    const fail = (err: OperationError) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(err);
    };
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      const refusal = managerRefusal(socket, paths, trust.uids);
      if (refusal) return fail(new OperationError(refusal, 'UNTRUSTED'));
      socket.write(`${JSON.stringify({ cmd, node })}\n`);
    });
    const reader = new LineReader(
      (line) => {
        const reply = JSON.parse(line) as Reply<C>;
        if ('progress' in reply) return onProgress(reply.progress);
        if (settled) return;
        // A manager older than the codes sends none: it may be the old one of an upgrade.
        if (!reply.ok) reply.code = codeOf(reply, reply.denied ? 'DENIED' : 'FAILED');
        // Refused access is no failed reload or stop: it is reported as itself, whatever was asked.
        if (!reply.ok && reply.code === 'DENIED') return fail(new OperationError(reply.error, 'DENIED'));
        settled = true;
        resolve({ reply, closed });
      },
      () => fail(new OperationError(`the manager for ${paths.label} sent an answer too long to read`, 'NO_ANSWER')),
      MAX_REPLY_BYTES,
    );
    socket.on('data', (chunk: string) => reader.push(chunk));
    socket.once('error', (err: NodeJS.ErrnoException) => fail(connectError(paths, err)));
    socket.once('close', () => fail(new OperationError(`the manager for ${paths.label} closed the control channel without an answer`, 'NO_ANSWER')));
  });
}

function connectError(paths: InstancePaths, err: NodeJS.ErrnoException): OperationError {
  switch (err.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
      return new OperationError(`no hypnode instance is running for ${paths.label} (no manager at ${paths.socket})`, 'NOT_RUNNING');
    case 'EACCES':
      return new OperationError(`permission denied on ${paths.socket}: only the user who started the instance, and root, may control it`, 'DENIED');
    case 'EPIPE':
    case 'ECONNRESET':
      // The kernel took the connection, the manager dropped it unread: what libuv does when the
      // process has no file descriptor left to accept it with.
      return new OperationError(`the manager for ${paths.label} dropped the connection unanswered (${err.code}): it may be out of file descriptors, see its log and limits`, 'NO_ANSWER');
    default:
      return new OperationError(`control channel ${paths.socket}: ${err.message}`, 'NO_ANSWER');
  }
}
