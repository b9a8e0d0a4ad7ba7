import { lstatSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

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
