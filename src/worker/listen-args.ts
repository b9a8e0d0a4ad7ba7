import type { ListenKey } from '../protocol/listen-key.js';

// What a listen() call asks for, read the way node's own normalizeArgs reads it: the forms
// hypnode serves from the manager's sockets, and those it leaves to node.

export type ListenArgs = unknown[];

export interface Parsed {
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
