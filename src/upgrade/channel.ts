import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { LineReader } from '../protocol/lines.js';

// One end of the channel between an old manager and its successor: JSON lines over a socketpair.
// Either end learns of the other's death by the channel closing, whatever killed it.

export class UpgradeChannel<In, Out> extends EventEmitter<{ message: [message: In]; closed: [] }> {
  private open = true;
  /** Resolves once the other end has closed too (or died). */
  readonly ended: Promise<void>;

  constructor(private readonly socket: net.Socket) {
    super();
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setEncoding('utf8');
    const reader = new LineReader(
      (line) => {
        let message: In;
        try {
          message = JSON.parse(line) as In;
        } catch {
          return this.close();
        }
        this.emit('message', message);
      },
      () => this.close(),
    );
    socket.on('data', (chunk: string) => reader.push(chunk));
    socket.on('error', () => {});
    socket.once('close', () => {
      this.open = false;
      this.emit('closed');
    });
  }

  get isOpen(): boolean {
    return this.open;
  }

  send(message: Out): void {
    if (this.open && this.socket.writable) this.socket.write(`${JSON.stringify(message)}\n`);
  }

  /** Resolves with the first message `pick` accepts; rejects if it throws, or if the channel closes first. */
  next<T>(pick: (message: In) => T | undefined): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: In) => {
        let picked: T | undefined;
        try {
          picked = pick(m);
        } catch (err) {
          done();
          return reject(err as Error);
        }
        if (picked === undefined) return;
        done();
        resolve(picked);
      };
      const done = () => {
        this.off('message', onMessage);
        this.off('closed', onClosed);
      };
      const onClosed = () => {
        this.off('message', onMessage);
        reject(new Error('channel closed'));
      };
      if (!this.open) return onClosed();
      this.on('message', onMessage);
      this.once('closed', onClosed);
    });
  }

  /** Lets the other end see the channel close, once what was sent is flushed. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.socket.end();
    this.socket.unref();
  }

  /** Neither end keeps its process alive for this channel alone. */
  unref(): void {
    this.socket.unref();
  }
}
