import { readdirSync, readFileSync } from 'node:fs';

/** A child of this process, as /proc tells: its pid, and whether it has exited and waits to be reaped. */
export interface Child {
  pid: number;
  zombie: boolean;
}

/** Every child of this process, those libuv started and those adopted alike. */
export function children(): Child[] {
  const found: Child[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold anything, so read after its last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(ppid) === process.pid) found.push({ pid: Number(name), zombie: state === 'Z' });
  }
  return found;
}
