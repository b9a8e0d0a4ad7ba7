import { pbkdf2Sync } from 'node:crypto';

// A fixed amount of CPU work per call, for the CPU-bound bench case: PBKDF2-SHA256 as a login
// handler hashes a password. Chosen over a busy loop: a loop until the clock has moved 1 ms is
// fixed wall time, not fixed work, so a worker that shares its core (2 workers and the client on
// 2 cores) would answer as fast having done less, hiding the very contention the case measures;
// and a loop in JavaScript runs at the speed of whichever V8 tier compiled it. pbkdf2Sync runs
// OpenSSL's native code on the calling thread (not libuv's pool, as pbkdf2 would): the same work
// on every call, holding the worker's event loop as a CPU-heavy handler does.

export function burn(iterations: number): void {
  pbkdf2Sync('bench', 'salt', iterations, 32, 'sha256');
}
