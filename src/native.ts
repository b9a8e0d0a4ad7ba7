import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Typed access to native/hypnode_native.c: the socket calls Node has no API for (systemd, the
// control channel's peer check) and the worker's orphan watch. The addon is loaded on first use,
// not at import: a missing build must only break what needs it.

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface SocketInfo {
  family: 'unix' | 'ipv4' | 'ipv6' | 'other';
  type: 'stream' | 'dgram' | 'seqpacket' | 'raw' | 'other';
  /** SO_ACCEPTCONN: listen() was called on it. */
  listening: boolean;
  /** ipv4/ipv6: the bound address as inet_ntop writes it ('0.0.0.0', '::', '127.0.0.1'). */
  address?: string;
  port?: number;
  /** ipv6 only: IPV6_V6ONLY. A systemd ListenStream=PORT socket is [::] and dual-stack. */
  ipv6Only?: boolean;
  /** unix, when bound: the path; an abstract name starts with '\0', as in Node's net module. */
  path?: string;
}

interface Addon {
  notify(socketPath: string, message: string, fds: number[]): void;
  peerCredentials(fd: number): PeerCredentials;
  unixSocketPath(fd: number): string | null;
  socketInfo(fd: number): SocketInfo;
  setCloexec(fd: number): void;
  exitWhenOrphaned(parent: number, graceMs: number): void;
  leaveForegroundGroup(): void;
}

/** The addon could not be loaded: not built, built for another Node ABI, or not on Linux. */
export class NativeAddonError extends Error {
  override name = 'NativeAddonError';
  readonly code = 'ERR_HYPNODE_NATIVE';
}

const ADDON = join('build', 'Release', 'hypnode_native.node');

let addon: Addon | undefined;
let failure: NativeAddonError | undefined;

function load(): Addon {
  if (addon) return addon;
  if (failure) throw failure;
  if (process.platform !== 'linux') {
    failure = new NativeAddonError(`hypnode's native addon needs Linux (this is ${process.platform})`);
    throw failure;
  }
  const root = packageRoot();
  try {
    addon = createRequire(import.meta.url)(join(root, ADDON)) as Addon;
    return addon;
  } catch (cause) {
    failure = new NativeAddonError(
      `hypnode's native addon ${join(root, ADDON)} could not be loaded (${(cause as Error).message.split('\n')[0]}). ` +
        'Build it with `npm rebuild hypnode` (or `npm rebuild` in a hypnode checkout); node-gyp needs python3, make and a C compiler.',
      { cause },
    );
    throw failure;
  }
}

// The package root holds binding.gyp; this module runs from dist/src/systemd/ when built, or from
// src/systemd/ under a TypeScript loader, so look upwards rather than count levels.
function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) return join(start, '..', '..', '..');
  }
}

/** Throws NativeAddonError when the addon cannot be loaded; otherwise does nothing. */
export function loadNative(): void {
  load();
}

/**
 * Sends one datagram to an sd_notify socket (a path, or '@name' for the abstract namespace), with
 * `fds` attached as SCM_RIGHTS. Throws an Error with `code`/`errno` as Node's system errors have.
 */
export function notify(socketPath: string, message: string, fds: number[] = []): void {
  load().notify(socketPath, message, fds);
}

/** SO_PEERCRED of a connected AF_UNIX socket (Node: `socket._handle.fd`). */
export function peerCredentials(fd: number): PeerCredentials {
  return load().peerCredentials(fd);
}

/** The bound path of an AF_UNIX socket; null for another family or an unnamed socket. */
export function unixSocketPath(fd: number): string | null {
  return load().unixSocketPath(fd);
}

/** What socket an fd is: throws ENOTSOCK (as `code`) when it is no socket at all. */
export function socketInfo(fd: number): SocketInfo {
  return load().socketInfo(fd);
}

/** Sets FD_CLOEXEC, so that processes spawned later do not inherit the fd. */
export function setCloexec(fd: number): void {
  load().setCloexec(fd);
}

/**
 * Starts a thread that ends this process `graceMs` after its parent is no longer `parent`,
 * whether or not the event loop still runs.
 */
export function exitWhenOrphaned(parent: number, graceMs: number): void {
  load().exitWhenOrphaned(parent, graceMs);
}

/** Makes this process the leader of a process group of its own, in the same session. */
export function leaveForegroundGroup(): void {
  load().leaveForegroundGroup();
}
