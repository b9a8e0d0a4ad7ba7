import type { CommandResult } from '../commands.js';

// What the rig needs from a contender: start it from a bench app, find its manager process,
// reload it with its own reload command, stop it. Everything else is measured from outside.

export interface Setup {
  /** A private temporary directory for this run: logs, PID files, PM2_HOME, runtime dirs. */
  dir: string;
  port: number;
  workers: number;
  /** Tagged environment with PORT, BENCH_VERSION_FILE, BENCH_WORKERS (and BENCH_ALLOC_MB). */
  env: NodeJS.ProcessEnv;
  /** Longest a start or reload command may take before it counts as hung and is killed. */
  commandCapMs: number;
}

export interface Instance {
  /** The process that stays for the instance's life (read anew: hypnotoad's changes on reload). */
  managerPid(): number | null;
  /** The contender's own reload; absent when it has none. */
  reload?(): Promise<CommandResult>;
  stop(): Promise<void>;
}

export interface Contender {
  name: string;
  description: string;
  /** Why it cannot run here (say, not installed), or null. */
  missing(): string | null;
  start(setup: Setup): Promise<Instance>;
}
