import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sendCommand } from '../control/client.js';
import { candidateDirs } from '../control/paths.js';
import type { InstancePaths } from '../protocol/control.js';
import type { Status } from '../protocol/status.js';

// Every instance this user can reach: each control socket in the runtime directories `start`
// and the units use, asked for its status (a stale socket, or one not ours to use, is left out).

/** How long a manager may take to answer before `ls` goes on without it. */
const ANSWER_MS = 3000;

export interface Running {
  socket: string;
  status: Status;
}

export async function runningInstances(runtimeDir: string | null): Promise<Running[]> {
  const sockets: string[] = [];
  for (const dir of candidateDirs(runtimeDir)) {
    try {
      for (const entry of readdirSync(dir)) if (entry.endsWith('.sock')) sockets.push(join(dir, entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  const answers = await Promise.all(sockets.map(async (socket) => ({ socket, status: await statusOf({ dir: join(socket, '..'), socket, label: socket }) })));
  return answers.filter((a): a is Running => a.status !== null).sort((a, b) => a.status.app.localeCompare(b.status.app) || (a.status.name ?? '').localeCompare(b.status.name ?? ''));
}

async function statusOf(paths: InstancePaths): Promise<Status | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ANSWER_MS)));
  const asked = sendCommand(paths, 'status').then((r) => (r.ok ? r.result : null), () => null);
  try {
    return await Promise.race([asked, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** How `hypnode status` and the others would name it. */
export function instanceArgs(s: Status): string {
  return `${s.app}${s.name ? ` --name ${s.name}` : ''}`;
}
