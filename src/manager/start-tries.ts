// How long a first start whose workers die before they are ever ready goes on: retried with
// backoff until a slot has had `limit` such deaths, then given up (0: never), so that code that
// cannot start fails its start in seconds, with its own error, instead of waiting for systemd's
// start timeout. Counted per slot: an app that fails now and then at boot is not given up on
// because it runs many workers.

export class StartTries {
  private readonly deaths = new Map<number, number>();

  constructor(readonly limit: number) {}

  /** A worker in `slot` died before it was ready: whether that was the last try. */
  used(slot: number): boolean {
    const n = (this.deaths.get(slot) ?? 0) + 1;
    this.deaths.set(slot, n);
    return this.limit > 0 && n >= this.limit;
  }
}
