import type { ErrorCode } from './protocol/error-codes.js';

/** Bad input from the user: printed as one line without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';

  constructor(
    message: string,
    readonly code: Extract<ErrorCode, 'BAD_INPUT' | 'CONFIG_INVALID'> = 'BAD_INPUT',
  ) {
    super(message);
  }
}

/**
 * The operation was understood but failed (reload of broken code, nothing running): its code
 * chooses the exit status. `details` go with it into --json (a failed reload's output, what serves).
 */
export class OperationError extends Error {
  override name = 'OperationError';

  constructor(
    message: string,
    readonly code: ErrorCode = 'FAILED',
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
