import { duration } from '../../durations.js';
import type { CliArgs } from '../args.js';
import { jsonText, table } from '../format.js';
import { runningInstances } from '../instances.js';

// `hypnode ls`: every instance this user can control, as a table or (--json) a list.

export async function list(args: CliArgs): Promise<number> {
  const running = await runningInstances(process.env.HYPNODE_RUNTIME_DIR || null);
  if (args.json) {
    const rows = running.map(({ socket, status: s }) => ({
      name: s.name, app: s.app, generation: s.generation, workersReady: s.workersReady, workersWanted: s.workersWanted,
      state: s.state, reloading: s.reloading, pid: s.pid, startedAt: s.startedAt, socket,
    }));
    process.stdout.write(jsonText(rows));
    return 0;
  }
  if (running.length === 0) {
    process.stdout.write('no hypnode instance is running (for this user)\n');
    return 0;
  }
  const now = Date.now();
  process.stdout.write(`${table(
    [
      { head: 'NAME', value: (r) => r.status.name ?? '-' },
      { head: 'APP', value: (r) => r.status.app },
      { head: 'GEN', value: (r) => String(r.status.generation ?? '-'), right: true },
      { head: 'WORKERS', value: (r) => `${r.status.workersReady}/${r.status.workersWanted}`, right: true },
      { head: 'STATE', value: (r) => `${r.status.state}${r.status.reloading ? ', reloading' : ''}` },
      { head: 'PID', value: (r) => String(r.status.pid), right: true },
      { head: 'UPTIME', value: (r) => duration(now - r.status.startedAt), right: true },
    ],
    running,
  )}\n`);
  return 0;
}
