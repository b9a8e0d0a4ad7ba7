// What went wrong, as a word a program can act on: the manager puts one on every failure it
// answers, the CLI on every error it prints with --json (and chooses its exit status by it; see
// cli/exit-status.ts and the README's "Exit codes"). The list only grows: a code is never renamed.

export const ERROR_CODES = [
  /** An upgrade was asked while a reload or another upgrade runs: try again once it is done. */
  'BUSY',
  /** A reload was asked while the manager itself is being upgraded: try again once that is done. */
  'UPGRADING',
  /** The manager is stopping: it reloads and upgrades no more. */
  'STOPPING',
  /** The new code (or, in an upgrade, the new manager) could not start: the old serves on. */
  'START_FAILED',
  /** A new worker died within its probation: the old code serves again. */
  'PROBATION_FAILED',
  /** The new code answered worse than the old in its probation, on evidence (see manager/traffic-verdict.ts): the old code serves again. */
  'TRAFFIC_REFUSED',
  /** An upgrade was asked while no generation serves: there is nothing to hand over. */
  'NOT_SERVING',
  /** The caller may not control this instance. */
  'DENIED',
  /** The manager did not understand the request (a client newer than the manager). */
  'BAD_REQUEST',
  /** The manager failed otherwise while it carried out the command: its log says more. */
  'INTERNAL',
  /** No manager answers for this instance. */
  'NOT_RUNNING',
  /** A manager runs for this instance already. */
  'ALREADY_RUNNING',
  /** The manager did not answer: it closed the connection, dropped it, or said too much. */
  'NO_ANSWER',
  /** The runtime directory or the manager fails hypnode's ownership checks: nothing was sent. */
  'UNTRUSTED',
  /** A bad command, flag, environment variable, env file or app file. */
  'BAD_INPUT',
  /** The config file does not exist, does not parse, or holds a bad key or value. */
  'CONFIG_INVALID',
  /** The native addon cannot be loaded, where hypnode cannot work without it. */
  'NATIVE_MISSING',
  /** Anything else, and a failure that carries no code (a manager older than the codes). */
  'FAILED',
  /** `hypnode rollback` with no release before the current one that this manager knows of. */
  'NO_PREVIOUS_RELEASE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return (ERROR_CODES as readonly unknown[]).includes(value);
}

/**
 * The code that an error or a failure reply carries, or `fallback`: a peer of another version
 * may send none (an older one) or one this version does not know (a newer one).
 */
export function codeOf(carrier: unknown, fallback: ErrorCode): ErrorCode {
  const code = (carrier as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? code : fallback;
}
