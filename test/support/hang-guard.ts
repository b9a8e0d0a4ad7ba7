/**
 * How long a test's wait for a condition may last by default: a guard against a hang, not a limit
 * on the machine (a busy one, 8 test runs on 2 cores, takes many times an idle one's time). A
 * limit on the code under test is asserted on what the code said or did, never on the clock.
 */
export const HANG_GUARD_MS = 120_000;
