import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

// Whether another process has exited, asked by the CLI (a manager it stopped) and by an upgrade's
// new manager (an old one whose channel closed: the kernel closes a dying process's fds first).

/** True once `pid` has exited (a zombie has: it only waits for its parent to read its status); false if it still runs after `timeoutMs`. */
export async function exited(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!running(pid)) return true;
    if (Date.now() > deadline) return false;
    await delay(10);
  }
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // The state follows the command name, which may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return process.platform !== 'linux';
  }
}
