import type { ErrorCode } from '../protocol/error-codes.js';
import type { CliArgs } from './args.js';

// The CLI's exit status for each error code: distinct where a script acts differently (fix the
// input; retry later; start what does not run), 1 for the rest. The README's "Exit codes" table
// says the same (a test holds them together).

/** LSB's and systemctl's "not running", from `hypnode status`: nothing serves. */
export const NOT_SERVING = 3;

/** sysexits.h's EX_TEMPFAIL: refused for now, the same command will do once the manager is free. */
export const TRY_LATER = 75;

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_INPUT: 2,
  CONFIG_INVALID: 2,
  BUSY: TRY_LATER,
  UPGRADING: TRY_LATER,
};

/** `command`: null when the command line itself was not understood. */
export function exitStatus(code: ErrorCode, command: CliArgs['command'] | null): number {
  if (code === 'NOT_RUNNING' && command === 'status') return NOT_SERVING;
  return STATUS[code] ?? 1;
}
