import { closeSync, existsSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BALANCE_RECORD_BYTES, BALANCE_SEATS, BALANCE_TABLE_BYTES } from '../protocol/balance.js';

// The manager's side of the balance table (see worker/balance.ts): a file, unlinked at once, so
// that it lives exactly as long as the processes holding it open (in /dev/shm where there is one:
// a worker reads and writes it through the page cache, never the disk). Each worker gets a seat
// of its own while it lives; a worker that died without saying so is cleared when its seat is freed.

export class BalanceTable {
  private readonly taken = new Set<number>();
  private readonly empty = Buffer.alloc(BALANCE_RECORD_BYTES);

  private constructor(readonly fd: number) {}

  /** A new table; throws (the workers then accept unbalanced) when no file can be made for it. */
  static create(): BalanceTable {
    const dir = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
    const path = join(dir, `hypnode-balance-${process.pid}-${randomBytes(4).toString('hex')}`);
    const fd = openSync(path, 'wx+', 0o600);
    rmSync(path);
    try {
      // Written, not truncated to size: a sparse file's page is allocated by the first worker's
      // write, which on a full /dev/shm would fail with ENOSPC in the worker; here it fails the table.
      writeSync(fd, Buffer.alloc(BALANCE_TABLE_BYTES), 0, BALANCE_TABLE_BYTES, 0);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new BalanceTable(fd);
  }

  /** A free seat, or -1 when all are taken (that worker then accepts unbalanced). */
  claim(): number {
    for (let seat = 0; seat < BALANCE_SEATS; seat++) {
      if (this.taken.has(seat)) continue;
      this.taken.add(seat);
      return seat;
    }
    return -1;
  }

  release(seat: number): void {
    if (!this.taken.delete(seat)) return;
    writeSync(this.fd, this.empty, 0, BALANCE_RECORD_BYTES, seat * BALANCE_RECORD_BYTES);
  }

  close(): void {
    closeSync(this.fd);
  }
}
