import type { ErrorCode } from './error-codes.js';
import type { ReleaseRecord, ReloadResult, Serving, Status, UpgradeResult } from './status.js';

// The control channel speaks newline-delimited JSON over a unix socket: the client sends one
// request line; the manager answers with progress lines and one final line, then closes.

/** Where an instance's control socket is (control/paths.ts names it), and how it is called in messages. */
export interface InstancePaths {
  dir: string;
  socket: string;
  label: string;
  /** The directory was named (--runtime-dir, its variable, the config file), not found: its owner is the instance's user. */
  named?: boolean;
}

/** What each command answers when it succeeds. */
export interface Results {
  reload: Extract<ReloadResult, { ok: true }>;
  /** The reload that deployed the release before; `appNow`: what `app` (the path given to start) resolves to now, which a later reload deploys (null: nothing there). */
  rollback: Extract<ReloadResult, { ok: true }> & { release: ReleaseRecord; app: string; appNow: string | null };
  status: Status;
  /** The manager's pid: the client waits for it to be gone. */
  stop: { pid: number };
  'stop-fast': { pid: number };
  'reopen-logs': { reopened: string[] };
  /** The old manager's answer, once the new one serves everything: the client waits for it to exit. */
  upgrade: Extract<UpgradeResult, { ok: true }>;
}

export type Command = keyof Results;
export const COMMANDS: readonly Command[] = ['reload', 'rollback', 'status', 'stop', 'stop-fast', 'reopen-logs', 'upgrade'];

export interface Request {
  cmd: Command;
  /** `upgrade`: the Node binary the new manager runs on (default: the one the old was started with). */
  node?: string;
}

export type Failure = {
  ok: false;
  /** What went wrong, for programs; absent from a manager older than the codes (see codeOf). */
  code: ErrorCode;
  error: string;
  /** A failed reload: the new code's own output, and what serves now. */
  output?: string;
  serving?: Serving | null;
  /** The caller may not control this instance at all (see control/peer.ts): code DENIED, said also so for a client older than the codes. */
  denied?: true;
};

export type FinalReply<C extends Command = Command> = { ok: true; result: Results[C] } | Failure;
export type Reply<C extends Command = Command> = { progress: string } | FinalReply<C>;

export function parseRequest(line: string): Request | string {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return 'request is not JSON';
  }
  const cmd = (data as { cmd?: unknown } | null)?.cmd;
  if (typeof cmd !== 'string' || !(COMMANDS as readonly string[]).includes(cmd)) {
    return `unknown command; expected one of ${COMMANDS.join(', ')}`;
  }
  const node = (data as { node?: unknown }).node;
  if (node !== undefined && (typeof node !== 'string' || node === '')) return 'node must be a path';
  return node === undefined ? { cmd: cmd as Command } : { cmd: cmd as Command, node };
}
