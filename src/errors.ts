/** Bad input from the user: printed as one line without a stack, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The operation was understood but failed (reload of broken code, nothing running): exit code 1. */
export class OperationError extends Error {
  override name = 'OperationError';
}
