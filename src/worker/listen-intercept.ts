import net from 'node:net';
import { holdChannel, onManagerMessage, sendToManager } from './channel.js';
import type { ListenKey } from './messages.js';
import { guardHeldSockets } from './unlink-guard.js';

// The app's listen() calls are served from sockets the manager owns, so that they stay open
// across reloads and crashes. This is what node's cluster module does for its workers; hypnode
// does it without cluster so that the manager keeps every socket for its whole life and can
// take them from systemd (socket activation, fd store).

export interface ListenEvents {
  /** A listen() was handed to the manager. */
  requested(server: net.Server): void;
  /** It finished, listening or failed. */
  settled(ok: boolean): void;
}

interface PipeServer extends net.Server {
  _handle: unknown;
  _pipeName?: string;
  _listen2(address: string | null, port: number, addressType: number, backlog?: number): void;
}

type ListenArgs = unknown[];
const originalListen = net.Server.prototype.listen as (this: net.Server, ...args: ListenArgs) => net.Server;

let nextId = 1;
const waiting = new Map<number, (error: { code: string; message: string } | null, handle: unknown) => void>();

export function interceptListen(events: ListenEvents): void {
  // A unix socket the app listens on is the manager's: the app's removal of its file must not take it away.
  guardHeldSockets();
  onManagerMessage((msg, handle) => {
    if (msg.hypnode !== 'listen-reply') return;
    const done = waiting.get(msg.id);
    waiting.delete(msg.id);
    done?.(msg.error, handle);
  });

  net.Server.prototype.listen = function listen(this: net.Server, ...args: ListenArgs): net.Server {
    const parsed = parseListenArgs(args);
    if (!parsed) return originalListen.apply(this, args);
    const { key, backlog, callback } = parsed;
    if (callback) this.once('listening', callback);
    events.requested(this);
    const id = nextId++;
    const release = holdChannel();
    waiting.set(id, (error, handle) => {
      release();
      if (error || !handle) {
        const err = Object.assign(new Error(`listen ${error?.code ?? 'EINVAL'}: ${error?.message ?? 'no socket'} ${describe(key)}`), {
          code: error?.code ?? 'EINVAL',
          syscall: 'listen',
          ...(key.kind === 'tcp' ? { address: key.host ?? '::', port: key.port } : { address: key.path }),
        });
        events.settled(false);
        this.emit('error', err);
        return;
      }
      this.once('listening', () => events.settled(true));
      if (key.kind === 'tcp') {
        originalListen.call(this, handle, backlog);
      } else {
        // node's listen(handle) takes only TCP handles; for a unix socket do what cluster's
        // worker does with a handle from its primary.
        const server = this as PipeServer;
        server._handle = handle;
        server._pipeName = key.path;
        server._listen2(null, -1, -1, backlog);
      }
    });
    sendToManager({ hypnode: 'listen', id, key });
    return this;
  } as typeof net.Server.prototype.listen;
}

function describe(key: ListenKey): string {
  return key.kind === 'unix' ? key.path : `${key.host ?? '::'}:${key.port}`;
}

interface Parsed {
  key: ListenKey;
  backlog: number | undefined;
  callback: (() => void) | undefined;
}

/**
 * Mirrors node's own normalizeArgs for listen(). Returns null for the forms hypnode leaves to
 * node: an explicit handle or fd, `exclusive: true`, and anything it does not recognise.
 */
export function parseListenArgs(args: ListenArgs): Parsed | null {
  const callback = typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as () => void) : undefined;
  const rest = callback ? args.slice(0, -1) : args;
  const first = rest[0];
  let options: Record<string, unknown>;
  let backlog: number | undefined;
  if (first !== null && typeof first === 'object') {
    options = first as Record<string, unknown>;
    backlog = toNumber(rest[1]);
  } else if (typeof first === 'string' && toNumber(first) === undefined) {
    options = { path: first };
    backlog = toNumber(rest[1]);
  } else {
    options = { port: first };
    if (typeof rest[1] === 'string') {
      options.host = rest[1];
      backlog = toNumber(rest[2]);
    } else {
      backlog = toNumber(rest[1]);
    }
  }
  if ('_handle' in options || 'handle' in options || 'fd' in options || options.exclusive === true) return null;
  backlog = toNumber(options.backlog) ?? backlog;
  if (typeof options.path === 'string' && options.path !== '') {
    return { key: { kind: 'unix', path: options.path }, backlog, callback };
  }
  const port = options.port === undefined || options.port === null ? 0 : toNumber(options.port);
  if (port === undefined || port < 0 || port > 65535 || !Number.isInteger(port)) return null;
  const host = typeof options.host === 'string' && options.host !== '' ? options.host : null;
  return { key: { kind: 'tcp', host, port, ipv6Only: options.ipv6Only === true }, backlog, callback };
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}
