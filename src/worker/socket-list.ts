/**
 * The open connections of a worker's servers: added on accept, removed on close, read by the
 * drain. At tens of thousands of new connections a second per worker, a Set of sockets cost 4 %
 * of the throughput (measured: each socket hashed on add, the table rehashed as it churns); this
 * keeps each socket's index in the socket itself (a symbol of the list's own) and removes by
 * moving the last one into the hole: no hashing, no allocation.
 */
export class SocketList<T extends object> implements Iterable<T> {
  private readonly items: T[] = [];
  private readonly slot = Symbol('hypnode.socket-list.slot');

  get size(): number {
    return this.items.length;
  }

  add(item: T): void {
    (item as Record<symbol, number>)[this.slot] = this.items.length;
    this.items.push(item);
  }

  delete(item: T): void {
    const at = (item as Record<symbol, number | undefined>)[this.slot];
    if (at === undefined || this.items[at] !== item) return;
    const last = this.items.pop()!;
    if (last === item) return;
    this.items[at] = last;
    (last as Record<symbol, number>)[this.slot] = at;
  }

  /** A copy: what the caller does to them (closing them) cannot skip one. */
  [Symbol.iterator](): Iterator<T> {
    return [...this.items][Symbol.iterator]();
  }
}
