// The table through which a manager's workers share how many connections each holds (see
// worker/balance.ts): a file of fixed records, one per seat, that the manager hands every worker
// as an open fd. A record is the worker's pid (0: the seat is empty or its worker stopped
// serving), its open connections, and when it last wrote (Date.now(), ms), all little-endian.

export const BALANCE_SEATS = 128;
export const BALANCE_RECORD_BYTES = 16;
export const BALANCE_TABLE_BYTES = BALANCE_SEATS * BALANCE_RECORD_BYTES;

/** Where a worker finds the table: its fd in the worker, and the worker's own record. */
export interface BalanceSeat {
  fd: number;
  seat: number;
}
