import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorCode } from './protocol/error-codes.js';

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
  tryLock(fd: number): boolean;
  exitWhenOrphaned(parent: number, graceMs: number): void;
  leaveForegroundGroup(): void;
  reapChild(pid: number): boolean;
  setChildSubreaper(on: boolean): void;
  outputLock(): number;
  writeSome(lockFd: number, fd: number, lines: Buffer, offset: number): WriteOutcome;
  writeText(lockFd: number, fd: number, prefix: Buffer, line: string): WriteOutcome;
  setNonBlocking(fd: number): void;
  journalStream(path: string, header: string): number;
}

/**
 * How far a write of whole lines to a shared sink got: the offset in the batch it reached (all of
 * it, or where a full sink stopped it: the caller writes the rest later); `busy`, another writer
 * holds the sink (a large batch of its own under way); or the errno (ENOSPC, EPIPE...).
 */
export type WriteOutcome = number | string;

/** The addon could not be loaded: no prebuild fits and none was built, or not on Linux. */
export class NativeAddonError extends Error {
  override name = 'NativeAddonError';
  /** Also the code of the warning that says so (see loadNative). */
  readonly code = 'NATIVE_MISSING' satisfies ErrorCode;
}

/** Which addon file this process loaded, and how it came to be there. */
export interface NativeAddonInfo {
  /** The file loaded. */
  path: string;
  /** 'prebuilt': shipped in the npm package; 'source': built on this machine by node-gyp. */
  origin: 'prebuilt' | 'source';
  /** A prebuild's platform, architecture and C library, as in its name: 'linux-x64 glibc'. */
  target: string | null;
}

// The loader is node-gyp-build, as in bufferutil, sodium-native or classic-level: a build made on
// this machine (build/Release, by `npm rebuild hypnode`) first, then the prebuild in
// prebuilds/<platform>-<arch>/ whose tags fit: hypnode.glibc.node or hypnode.musl.node (Node-API,
// so one file serves every Node version). It tells musl from glibc by /etc/alpine-release (or
// LIBC=musl): on another musl system it picks the glibc file, which cannot load there, so the
// musl one is tried next.
interface NodeGypBuild {
  path(dir: string): string;
}

let addon: Addon | undefined;
let info: NativeAddonInfo | undefined;
let failure: NativeAddonError | undefined;
let warned = false;

function load(): Addon {
  if (addon) return addon;
  if (failure) throw failure;
  if (process.platform !== 'linux') {
    failure = new NativeAddonError(`hypnode's native addon needs Linux (this is ${process.platform}); without it hypnode cannot serve systemd's Type=notify`);
    throw failure;
  }
  const root = packageRoot();
  const require = createRequire(import.meta.url);
  let chosen: string;
  try {
    chosen = (require('node-gyp-build') as NodeGypBuild).path(root);
  } catch (cause) {
    failure = new NativeAddonError(`hypnode's native addon is missing: no prebuild for ${platformName()} in ${join(root, 'prebuilds')} and no build from source in ${join(root, 'build', 'Release')}; ${BUILD_HINT}`, { cause });
    throw failure;
  }
  const candidates = [chosen, ...otherLibc(chosen)];
  let firstError: Error | undefined;
  for (const file of candidates) {
    try {
      addon = require(file) as Addon;
      info = describe(root, file);
      return addon;
    } catch (cause) {
      firstError ??= cause as Error;
    }
  }
  failure = new NativeAddonError(
    `hypnode's native addon ${chosen} could not be loaded (${firstLine(firstError?.message)}); ${BUILD_HINT}`,
    { cause: firstError },
  );
  throw failure;
}

const BUILD_HINT =
  'to build it from source, install python3, make and a C compiler (Debian/Ubuntu: apt-get install python3 make gcc; Alpine: apk add python3 make gcc musl-dev), then run `npm rebuild hypnode` in your project (`npm rebuild -g hypnode` for a global install)';

function platformName(): string {
  return `${process.platform}-${process.arch} ${hasGlibc() ? 'glibc' : 'musl'}`;
}

// As detect-libc does: Node's own report names the glibc it runs on, and nothing under musl.
function hasGlibc(): boolean {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return typeof report?.header?.glibcVersionRuntime === 'string';
}

/** A glibc prebuild that did not load may be on a musl system that is not Alpine: its sibling. */
function otherLibc(file: string): string[] {
  const sibling = file.replace(/\.glibc\.node$/, '.musl.node');
  return sibling !== file && existsSync(sibling) ? [sibling] : [];
}

function describe(root: string, file: string): NativeAddonInfo {
  const rel = relative(root, file).split(sep);
  if (rel[0] === 'prebuilds' && rel.length === 3) {
    const libc = /\.(glibc|musl)\.node$/.exec(rel[2]!)?.[1];
    return { path: file, origin: 'prebuilt', target: libc ? `${rel[1]} ${libc}` : rel[1]! };
  }
  return { path: file, origin: 'source', target: null };
}

function firstLine(text: string | undefined): string {
  return (text ?? 'unknown error').split('\n')[0]!.trim();
}

// The package root holds binding.gyp; this module runs from dist/src/ when built, or from src/
// under a TypeScript loader, so look upwards rather than count levels.
function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dirname(dir) === dir) return join(start, '..', '..');
  }
}

/**
 * Throws NativeAddonError when the addon cannot be loaded; otherwise does nothing. The first
 * failure in a process is also told as a warning (once), naming what is missing, how to build it
 * and what hypnode does without it: callers that catch the error go on without the addon.
 */
export function loadNative(): void {
  try {
    load();
  } catch (err) {
    if (err instanceof NativeAddonError && !warned) {
      warned = true;
      process.emitWarning(`${err.message}. Without it hypnode runs, but the control socket is guarded by its file modes only, two starts of one instance at the same moment are not kept apart, a worker whose event loop is stuck outlives a manager that died, a terminal's Ctrl-C reaches the workers too, processes the app started may outlive a stop, and systemd's Type=notify cannot be used.`, { code: err.code });
    }
    throw err;
  }
}

/**
 * For what cannot work without the addon at all (`purpose` says what): throws a NativeAddonError
 * whose one-line message says so, what is missing and what to install; no warning.
 */
export function requireNative(purpose: string): void {
  try {
    load();
  } catch (err) {
    if (!(err instanceof NativeAddonError)) throw err;
    throw new NativeAddonError(`${purpose}: ${err.message}`, { cause: err });
  }
}

/**
 * What `call` returns, or `without` when the addon cannot be loaded: for what hypnode does without
 * it (loadNative's warning says what goes). Any other error is thrown.
 */
export function orWithoutAddon<T>(call: () => T, without: T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof NativeAddonError) return without;
    throw err;
  }
}

/** The addon this process loaded (loading it if need be), or null when it cannot be loaded. */
export function nativeAddonInfo(): NativeAddonInfo | null {
  return orWithoutAddon(() => {
    load();
    return info ?? null;
  }, null);
}

/** One line for `hypnode --version`: which addon file is in use, or why there is none. */
export function describeNativeAddon(): string {
  const loaded = nativeAddonInfo();
  if (loaded?.origin === 'prebuilt') return `native addon: prebuilt for ${loaded.target} (${loaded.path})`;
  if (loaded) return `native addon: built from source (${loaded.path})`;
  return `native addon: none (${failure?.message ?? 'not loaded'})`;
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

/** Takes flock(LOCK_EX) on the open file `fd` without waiting: false when another holds it. */
export function tryLock(fd: number): boolean {
  return load().tryLock(fd);
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

/**
 * Reaps `pid` if it is an exited child of this process: true when it was. For the orphans a PID 1
 * inherits; never for a child that libuv started (it waits for those itself).
 */
export function reapChild(pid: number): boolean {
  return load().reapChild(pid);
}

/** On: an orphaned descendant of this process becomes its child (PR_SET_CHILD_SUBREAPER), not init's. */
export function setChildSubreaper(on: boolean): void {
  load().setChildSubreaper(on);
}

/** A lock in shared memory (a memfd) that every writer of one shared sink takes for each write. */
export function outputLock(): number {
  return load().outputLock();
}

/**
 * Writes `lines` from `offset` to `fd` under the lock in `lockFd` (-1: none needed), as far as the
 * sink takes it now, never waiting. A large batch begun holds the sink until its rest is written.
 */
export function writeSome(lockFd: number, fd: number, lines: Buffer, offset: number): WriteOutcome {
  return load().writeSome(lockFd, fd, lines, offset);
}

/**
 * writeSome() of `prefix` and one line given as a string, from 0, encoded by the addon (no Buffer
 * made); a number is the count of bytes left unwritten (0: all of it went).
 */
export function writeText(lockFd: number, fd: number, prefix: Buffer, line: string): WriteOutcome {
  return load().writeText(lockFd, fd, prefix, line);
}

/** O_NONBLOCK on `fd`'s open file description: a sink that takes nothing then says so at once. */
export function setNonBlocking(fd: number): void {
  load().setNonBlocking(fd);
}

/**
 * A stream to journald of the caller's own (journald's stdout protocol: `header`, then lines),
 * non-blocking, owned by no event loop: only the caller ever closes it.
 */
export function journalStream(path: string, header: string): number {
  return load().journalStream(path, header);
}
