import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { sendCommand } from '../control/client.js';
import type { InstancePaths } from '../protocol/control.js';
import { OperationError, UsageError } from '../errors.js';

// `hypnode start --daemon`, for init systems without sd_notify (sysvinit, OpenRC, Type=forking):
// the manager runs as a detached child and this process returns only once the first generation
// serves, by which time the PID file (written once by the manager itself) holds the manager's PID.

const READY_FD_ENV = 'HYPNODE_DAEMON_READY_FD';
const READY_FD = 3;

/**
 * In the parent: starts the manager in the background and waits for it to serve. A daemon keeps
 * none of its caller's stdio: its output goes to `logFile` (which the manager is told of too, to
 * reopen it), or nowhere.
 */
export function daemonize(argv: string[], paths: InstancePaths, logFile: string | null, timeoutMs: number): Promise<number> {
  // Only hypnode's own --daemon goes: what follows `--` is the app's, untouched.
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const args = [...own.filter((a) => a !== '--daemon'), ...(dash >= 0 ? argv.slice(dash) : [])];
  const out = logFile ? openLog(logFile) : 'ignore';
  const child = spawn(process.execPath, ['--', process.argv[1]!, ...args], {
    detached: true,
    stdio: ['ignore', out, out, 'pipe'],
    env: { ...process.env, [READY_FD_ENV]: String(READY_FD) },
  });
  if (typeof out === 'number') closeSync(out);
  return new Promise((resolve, reject) => {
    const pipe = child.stdio[READY_FD] as NodeJS.ReadableStream;
    let said = '';
    const timer = setTimeout(async () => {
      const crash = await lastCrash(paths);
      child.kill('SIGTERM');
      reject(new OperationError(`the manager did not serve within ${timeoutMs / 1000}s; it was stopped${crash}`, 'START_FAILED'));
    }, timeoutMs);
    pipe.on('data', (d: Buffer) => {
      said += d.toString();
      if (said.startsWith('ready\n')) {
        clearTimeout(timer);
        child.unref();
        pipe.removeAllListeners();
        (pipe as unknown as { destroy(): void }).destroy();
        process.stdout.write(`hypnode: manager ${child.pid} serves\n`);
        resolve(0);
      }
    });
    // 'close', not 'exit': what a manager that gave up said on the pipe (why) is read by then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const why = said.startsWith('failed: ') ? `: ${said.slice('failed: '.length).trimEnd()}` : '';
      reject(new OperationError(`the manager exited (${signal ?? `code ${code}`}) before it served${why}`, 'START_FAILED'));
    });
  });
}

async function lastCrash(paths: InstancePaths): Promise<string> {
  try {
    const reply = await sendCommand(paths, 'status');
    const crash = reply.ok ? reply.result.lastCrash : null;
    return crash ? `; last worker ${crash.message}:\n${crash.output.trimEnd()}` : '';
  } catch {
    return '';
  }
}

function openLog(path: string): number {
  try {
    return openSync(path, 'a', 0o640);
  } catch (err) {
    throw new UsageError(`--log-file ${path} cannot be opened: ${(err as Error).message}`);
  }
}

/** In the manager, at start: the pipe to a waiting `--daemon` parent, if there is one. */
export function takeDaemonReadyFd(): number | null {
  const fd = Number(process.env[READY_FD_ENV]);
  delete process.env[READY_FD_ENV];
  return Number.isInteger(fd) && fd >= 3 ? fd : null;
}

/** Tells the waiting parent that the first generation serves, or (`failed: ...`) why it never will. */
export function tellDaemonParent(fd: number, word = 'ready\n'): void {
  try {
    writeSync(fd, word);
    closeSync(fd);
  } catch {
    // The parent is gone (killed while waiting): nothing to tell.
  }
}
