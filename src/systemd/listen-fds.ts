import { setCloexec, socketInfo, type SocketInfo } from '../native.js';

// The fds systemd passes at start (man sd_listen_fds): the sockets of a socket unit (Sockets=) and,
// after them, whatever the fd store holds from an earlier run of the service, each under the
// FDNAME= it was stored with.

/** systemd passes fds from 3 up (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

export interface ListenFd {
  fd: number;
  /** The socket unit's FileDescriptorName= (default: the socket unit's name), or the fd store's FDNAME=. */
  name: string;
  /** null when the fd is no socket (ListenFIFO=, a stored memfd, ...). */
  info: SocketInfo | null;
}

/**
 * Takes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES out of `env` (children must not think the fds
 * are theirs), and returns the passed fds when they are meant for this process. Marks each fd
 * close-on-exec, as sd_listen_fds() does, so that spawned workers do not inherit them.
 */
export function listenFds(env: NodeJS.ProcessEnv = process.env): ListenFd[] {
  const { LISTEN_PID: pid, LISTEN_FDS: count, LISTEN_FDNAMES: names } = env;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  // The variables may have been inherited from a parent that was the one systemd meant.
  if (pid !== String(process.pid) || count === undefined || !/^\d+$/.test(count)) return [];
  const nameList = names === undefined ? [] : names.split(':');
  return Array.from({ length: Number(count) }, (_, i) => {
    const fd = LISTEN_FDS_START + i;
    setCloexec(fd);
    return { fd, name: nameList[i] ?? 'unknown', info: describe(fd) };
  });
}

function describe(fd: number): SocketInfo | null {
  try {
    return socketInfo(fd);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTSOCK') return null;
    throw err;
  }
}
