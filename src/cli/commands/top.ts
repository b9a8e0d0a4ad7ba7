import { sendCommand } from '../../control/client.js';
import { duration } from '../../durations.js';
import type { Status, WorkerStatus } from '../../protocol/status.js';
import type { CliArgs } from '../args.js';
import { CpuMeter } from '../cpu.js';
import { mib, table } from '../format.js';
import { find } from '../instance.js';
import { asking } from './control.js';

// `hypnode top APP`: each worker's CPU, memory, requests/s, connections, event-loop delay and
// state, the generation and a running reload's progress, every second. On a terminal the screen
// is redrawn in place (q or ^C quits); elsewhere each second is a block of plain lines.

const EVERY_MS = 1000;

interface Sample {
  status: Status;
  at: number;
}

export async function top(args: CliArgs): Promise<number> {
  const { paths } = await find(args);
  const out = process.stdout;
  const tty = out.isTTY === true;
  const cpu = new CpuMeter();
  let previous: Sample | null = null;
  let quit = false;
  let wake: () => void = () => {};
  const stop = () => {
    quit = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  if (tty && process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', (key: Buffer) => {
      if (key[0] === 0x71 || key[0] === 0x03) stop(); // q, ^C
    });
  }
  // Hide the cursor while the screen is ours.
  if (tty) out.write('\x1b[?25l');
  try {
    for (let first = true; !quit; first = false) {
      let reply;
      try {
        reply = await asking(args, sendCommand(paths, 'status'));
      } catch (err) {
        // The instance stopped while watched: the view ends there.
        if (!first) {
          out.write(`${tty ? '\n' : ''}hypnode: the manager of ${paths.label} is gone\n`);
          return 0;
        }
        throw err;
      }
      if (!reply.ok) throw new Error(reply.error);
      const sample = { status: reply.result, at: Date.now() };
      const view = render(sample, previous, cpu);
      out.write(tty ? `\x1b[H\x1b[2J${view}\n(q quits)` : `${view}\n\n`);
      previous = sample;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, EVERY_MS);
      });
    }
    return 0;
  } finally {
    if (tty) out.write('\x1b[?25h\n');
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
  }
}

/** One screen: the manager's line, a reload's progress if one runs, a row per worker. */
export function render({ status: s, at }: Sample, previous: Sample | null, cpu: CpuMeter): string {
  const time = new Date(at).toISOString().slice(11, 19);
  const lines = [
    `${time}  ${s.app}${s.name ? ` (${s.name})` : ''}  manager ${s.pid} ${s.state}, up ${duration(at - s.startedAt)}  generation ${s.generation ?? '-'}  ${s.workersReady}/${s.workersWanted} ready`,
  ];
  const coming = s.generations.filter((g) => g.state === 'starting');
  if (s.reloading) {
    lines.push(`reload: ${coming.length ? coming.map((g) => `generation ${g.id} ${g.workersReady}/${g.workersWanted} ready`).join(', ') : 'switching over, draining the old workers'}`);
  }
  const before = new Map(previous?.status.workers.map((w) => [w.pid, w]) ?? []);
  const seconds = previous ? (at - previous.at) / 1000 : 0;
  const rows = [...s.workers].sort((a, b) => b.generation - a.generation || a.slot - b.slot);
  const pct = new Map(rows.map((w) => [w.pid, cpu.percent(w.pid, at)]));
  cpu.keep(new Set(rows.map((w) => w.pid)));
  const rate = (w: WorkerStatus) => {
    const b = before.get(w.pid);
    return b && seconds > 0 ? ((w.requests - b.requests) / seconds).toFixed(0) : '-';
  };
  lines.push(
    '',
    table(
      [
        { head: 'GEN', value: (w) => String(w.generation), right: true },
        { head: 'SLOT', value: (w) => String(w.slot), right: true },
        { head: 'PID', value: (w) => String(w.pid), right: true },
        { head: 'STATE', value: (w) => w.state },
        { head: 'CPU%', value: (w) => (pct.get(w.pid) == null ? '-' : pct.get(w.pid)!.toFixed(1)), right: true },
        { head: 'RSS', value: (w) => (w.rss ? mib(w.rss) : '-'), right: true },
        { head: 'REQ/S', value: rate, right: true },
        { head: 'CONNS', value: (w) => String(w.connections), right: true },
        // Sampled only while --admin serves it (0: not sampled).
        { head: 'LOOP', value: (w) => (w.loopDelay ? `${(w.loopDelay * 1000).toFixed(1)} ms` : '-'), right: true },
        { head: 'UPTIME', value: (w) => duration(w.uptimeMs), right: true },
      ],
      rows,
    ),
  );
  return lines.join('\n');
}
