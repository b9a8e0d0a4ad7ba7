import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

// Running the contenders' commands: long-lived processes write to a log file (a pipe nobody reads
// would fill and block them), short commands are timed and capped.

export interface CommandResult {
  code: number | null;
  ms: number;
  timedOut: boolean;
  /** The end of stdout and stderr together, for error messages. */
  output: string;
}

const OUTPUT_KEPT = 4000;

/** Runs a command to its end, killed after `capMs`; the rig's own event loop keeps running meanwhile. */
export function runCommand(file: string, args: string[], env: NodeJS.ProcessEnv, capMs: number): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_KEPT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, capMs);
    const finish = (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, ms: performance.now() - started, timedOut, output: output.trim() });
    };
    child.on('error', (err) => {
      output += String(err);
      finish(null);
    });
    child.on('close', finish);
  });
}

/**
 * Starts a long-lived process with its output in `logPath`. In its own process group, so that a
 * Ctrl-C in the terminal reaches the rig alone, which then ends everything in order.
 */
export function startLogged(file: string, args: string[], env: NodeJS.ProcessEnv, logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a');
  try {
    const child = spawn(file, args, { env, stdio: ['ignore', fd, fd], detached: true });
    child.on('error', () => undefined);
    return child;
  } finally {
    closeSync(fd);
  }
}

export function logTail(logPath: string, chars = 1500): string {
  try {
    return readFileSync(logPath, 'utf8').slice(-chars).trim();
  } catch {
    return '';
  }
}
