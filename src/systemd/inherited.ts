import type { AdoptedSocket } from '../manager/listeners.js';
import type { ListenKey } from '../protocol/listen-key.js';
import { fdName } from './attach.js';
import { listenFds } from './listen-fds.js';
import type { SocketInfo } from '../native.js';

// Sockets systemd passed at start (a socket unit's, or our own back from the fd store), as keys
// the app's listen() calls can match: listen(8080) lands on a ListenStream=8080 socket.

export function inheritedSockets(env: NodeJS.ProcessEnv = process.env): AdoptedSocket[] {
  const out: AdoptedSocket[] = [];
  for (const { fd, name, info } of listenFds(env)) {
    const key = info && info.type === 'stream' ? keyOf(info) : null;
    // Our own sockets come back from the fd store under the name we gave them: they stay ours,
    // to be stored again and removed when the code stops listening on them.
    if (key) out.push({ fd, name: name === fdName(key) ? null : name, key });
  }
  return out;
}

function keyOf(info: SocketInfo): ListenKey | null {
  if (info.family === 'unix') return info.path ? { kind: 'unix', path: info.path } : null;
  if (info.family !== 'ipv4' && info.family !== 'ipv6') return null;
  const wildcard = info.address === '::' || info.address === '0.0.0.0';
  return { kind: 'tcp', host: wildcard ? null : (info.address ?? null), port: info.port ?? 0, ipv6Only: info.ipv6Only === true };
}
