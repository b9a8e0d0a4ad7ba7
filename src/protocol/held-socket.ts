import { lstatSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

// A unix socket the manager binds gets a second name, a hard link beside it: the mark by which a
// worker's unlink guard (worker/unlink-guard.ts) and a later start (manager/socket-path.ts) know
// the socket is held by a hypnode manager.

export function keepLinkPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.hypnode`);
}

/** True when `path` is a socket that a hypnode manager holds (it and its keep link are one inode). */
export function isHeldSocket(path: string): boolean {
  try {
    const socket = lstatSync(path);
    if (!socket.isSocket()) return false;
    const keep = lstatSync(keepLinkPath(path));
    return keep.ino === socket.ino && keep.dev === socket.dev;
  } catch {
    return false;
  }
}

/**
 * True when `path` is a socket file that a live socket is bound to (Linux lists those in
 * /proc/net/unix): no stale file left by a crash. The manager binds a path a moment before it
 * gives it its keep link, and a worker starting meanwhile must not take the name away either.
 */
export function isLiveSocket(path: string): boolean {
  try {
    if (!lstatSync(path).isSocket()) return false;
    const bound = ` ${resolve(path)}`;
    return readFileSync('/proc/net/unix', 'latin1').split('\n').some((line) => line.endsWith(bound));
  } catch {
    return false;
  }
}
