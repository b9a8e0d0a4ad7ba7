import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import type { ListenKey } from '../protocol/listen-key.js';
import { holdChannel, onManagerMessage, sendToManager } from './channel.js';
import { parseListenArgs, type ListenArgs } from './listen-args.js';
import { guardHeldSockets } from './unlink-guard.js';

// The app's listen() calls are served from sockets the manager owns, so that they stay open
// across reloads and crashes. This is what node's cluster module does for its workers; hypnode
// does it without cluster so that the manager keeps every socket for its whole life and can
// take them from systemd (socket activation, fd store).
//
// A worker takes no connection before it may: its servers look listening to the app at once
// (the 'listening' event, the callback), but the accepting itself (libuv's listen on the shared
// socket) waits until the manager says `accept`, once the worker is ready and its generation
// takes over. An app that dies while it loads (after its listen()) then fails no client.

export interface ListenEvents {
  /** A listen() was handed to the manager. */
  requested(server: net.Server): void;
  /** It finished, listening or failed. */
  settled(ok: boolean): void;
  /** A server took a connection from the shared socket (net counts it open by now). */
  accepted(): void;
}

type OnConnection = (this: ListenHandle, err: number, client?: object) => void;

interface ListenHandle {
  listen(backlog: number): number;
  close(): void;
  onconnection?: OnConnection;
}

interface NetServer extends net.Server {
  _handle: ListenHandle | null;
  _pipeName?: string;
  _listen2(address: string | null, port: number, addressType: number, backlog?: number): void;
}

interface Shared {
  server: NetServer;
  key: ListenKey;
  backlog: number | undefined;
  /** Starts accepting on the shared socket; null once started (or before the handle came). */
  start: (() => void) | null;
  /** The backlog node's listen() asked libuv for, once asked. */
  listenBacklog: number | null;
  /**
   * More fds of the same socket, not listened on: what pauseAccepting() puts in the server's
   * place (see there). Fetched from the manager ahead of the pauses that need them.
   */
  spares: ListenHandle[];
  paused: boolean;
}

type ListenError = { code: string; message: string } | null;
const originalListen = net.Server.prototype.listen as (this: net.Server, ...args: ListenArgs) => net.Server;

let nextId = 1;
const waiting = new Map<number, (error: ListenError, handle: unknown) => void>();
const shared: Shared[] = [];
let accepting = false;
let events: ListenEvents;
/** Keep spare handles for each server, for pauseAccepting(). */
let sparing = false;
/**
 * Spares kept per server. One is not enough: a worker that paused and resumed within a burst of
 * connections (a proxy opening its pool) could not pause again until the manager's next spare
 * arrived, and took what came meanwhile (32 connections on 8 workers went 10/8/3/3/2/2/2/2).
 */
const SPARES = 2;
/** The IPC channel is held open while a server waits to accept: nothing else keeps the worker alive. */
let waitingToAccept: (() => void) | null = null;

export function interceptListen(listenEvents: ListenEvents, options: { pausable: boolean }): void {
  events = listenEvents;
  sparing = options.pausable;
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
    void requestHandle(key).then(({ error, handle }) => {
      if (error || !handle) {
        events.settled(false);
        this.emit('error', listenError(key, error));
        return;
      }
      this.once('listening', () => events.settled(true));
      attach({ server: this as NetServer, key, backlog, start: null, listenBacklog: null, spares: [], paused: false }, handle as ListenHandle, false);
    });
    return this;
  } as typeof net.Server.prototype.listen;
}

/** listen() as node has it, for hypnode's own servers in the worker (never the manager's sockets). */
export function listenPrivately(server: net.Server, ...args: ListenArgs): net.Server {
  return originalListen.apply(server, args);
}

/** From now on every server of this worker accepts, those to come included. */
export function startAccepting(): void {
  accepting = true;
  for (const entry of shared) entry.start?.();
  waitingToAccept?.();
  waitingToAccept = null;
}

/** The drain closes the servers; a listen() made meanwhile must not start accepting. */
export function stopAccepting(): void {
  accepting = false;
  for (const entry of shared) {
    for (const spare of entry.spares) spare.close();
    entry.spares = [];
    entry.paused = false;
  }
}

/**
 * Stops taking connections, for the balance (balance.ts), without closing the shared socket:
 * libuv has no way to stop watching a listening handle but to close it, so each server's handle
 * is closed (the worker's fd; the socket, held by the manager and the other workers, and the
 * connections waiting on it stay) and its spare, an fd of the same socket not listened on, takes
 * its place, so that for the app the server is as it was. False, and nothing paused, while a
 * spare is still on its way.
 */
export function pauseAccepting(): boolean {
  const live = shared.filter((entry) => entry.server.listening && entry.start === null && !entry.paused);
  if (live.some((entry) => entry.spares.length === 0)) return false;
  for (const entry of live) {
    const old = entry.server._handle!;
    const spare = entry.spares.shift()!;
    spare.onconnection = old.onconnection;
    // node's net keeps the server in the handle under a symbol of its own (owner_symbol).
    for (const symbol of Object.getOwnPropertySymbols(old)) (spare as unknown as Record<symbol, unknown>)[symbol] = (old as unknown as Record<symbol, unknown>)[symbol];
    entry.server._handle = spare;
    entry.paused = true;
    old.close();
    fetchSpare(entry);
  }
  return true;
}

/** Takes connections again after pauseAccepting(): listens on the handle that took the old one's place. */
export function unpauseAccepting(): void {
  for (const entry of shared) {
    if (!entry.paused) continue;
    entry.paused = false;
    const err = entry.server._handle?.listen(entry.listenBacklog ?? 511) ?? 0;
    if (err < 0) entry.server.emit('error', listenError(entry.key, { code: getSystemErrorName(err), message: 'listen failed' }));
  }
}

function fetchSpare(entry: Shared): void {
  void requestHandle(entry.key).then(({ handle }) => {
    const spare = handle as ListenHandle | null;
    if (spare && accepting && entry.spares.length < SPARES && entry.server.listening) entry.spares.push(spare);
    else spare?.close();
  });
}

/**
 * Accepting again after a drain (the generation that replaced this one died in its probation):
 * every server the drain closed gets its socket back, quietly, since for the app it never stopped
 * being the server it made ('listening' again would rerun its start-up, as Next.js's would).
 */
export async function resumeAccepting(): Promise<void> {
  accepting = true;
  await Promise.all(
    shared
      .filter((entry) => !entry.server.listening)
      .map(async (entry) => {
        const { handle } = await requestHandle(entry.key);
        if (handle) attach(entry, handle as ListenHandle, true);
      }),
  );
}

function requestHandle(key: ListenKey): Promise<{ error: ListenError; handle: unknown }> {
  const id = nextId++;
  const release = holdChannel();
  return new Promise((resolve) => {
    waiting.set(id, (error, handle) => {
      release();
      resolve({ error, handle });
    });
    sendToManager({ hypnode: 'listen', id, key });
  });
}

/** Gives the server its socket; node's listen() on it is held back until the worker may accept. */
function attach(entry: Shared, handle: ListenHandle, quiet: boolean): void {
  const { server, key, backlog } = entry;
  const listen = handle.listen;
  handle.listen = (n: number) => {
    entry.listenBacklog = n;
    entry.start = () => {
      entry.start = null;
      const err = listen.call(handle, n);
      if (err < 0) server.emit('error', listenError(key, { code: getSystemErrorName(err), message: 'listen failed' }));
      if (sparing) for (let more = SPARES - entry.spares.length; more > 0; more--) fetchSpare(entry);
    };
    return 0;
  };
  if (!shared.includes(entry)) shared.push(entry);
  if (quiet) silenceNextListening(server);
  if (key.kind === 'tcp') {
    originalListen.call(server, handle, backlog);
  } else {
    // node's listen(handle) takes only TCP handles; for a unix socket do what cluster's
    // worker does with a handle from its primary.
    server._handle = handle;
    server._pipeName = key.path;
    server._listen2(null, -1, -1, backlog);
  }
  tellAccepts(handle);
  if (accepting) entry.start?.();
  else waitingToAccept ??= holdChannel();
}

/**
 * Tells of each connection after net's own handler took it: a call on the handle, not a
 * 'connection' listener, which every accept would pay for in node's event emitter.
 */
function tellAccepts(handle: ListenHandle): void {
  const netOnConnection = handle.onconnection!;
  handle.onconnection = function (err, client) {
    netOnConnection.call(this, err, client);
    if (client) events.accepted();
  };
}

/** Swallows the next 'listening' of `server`, but for node's own HTTP timeout checks, which start on it. */
function silenceNextListening(server: net.Server): void {
  const own = Object.prototype.hasOwnProperty.call(server, 'emit');
  const emit = server.emit as (this: net.Server, event: string | symbol, ...args: unknown[]) => boolean;
  server.emit = function (this: net.Server, event: string | symbol, ...args: unknown[]): boolean {
    if (event !== 'listening') return emit.call(this, event, ...args);
    if (own) server.emit = emit as typeof server.emit;
    else delete (server as Partial<net.Server>).emit;
    for (const l of server.rawListeners('listening')) if (l.name === 'setupConnectionsTracking') (l as () => void).call(server);
    return true;
  } as typeof server.emit;
}

function listenError(key: ListenKey, error: ListenError): Error {
  const where = key.kind === 'unix' ? key.path : `${key.host ?? '::'}:${key.port}`;
  return Object.assign(new Error(`listen ${error?.code ?? 'EINVAL'}: ${error?.message ?? 'no socket'} ${where}`), {
    code: error?.code ?? 'EINVAL',
    syscall: 'listen',
    ...(key.kind === 'tcp' ? { address: key.host ?? '::', port: key.port } : { address: key.path }),
  });
}
