import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startUserManager, systemdSkipReason, type SystemdSandbox } from '../test/support/systemd.js';
import { waitForAnswer } from './http.js';
import type { Plan } from './options.js';
import { cpuTicks, ticksPerSecond } from './proc.js';
import { progress, sleep } from './progress.js';
import { openRunDir, type RunDir } from './run-dir.js';
import { HYPNODE_CLI, nodeApp } from './paths.js';
import { median } from './stats.js';
import { runWrk } from './wrk.js';

// An app that writes a line per request (as pino, morgan, fastify's logger do), served by node's
// cluster (its workers write to the inherited stdout) and by hypnode, with the output going to a
// file, to a pipe read by a fast reader (cat), and to journald (units of a sandboxed systemd with
// StandardOutput=journal): requests per second, the lines that arrived per second, and the
// manager's CPU (the process that stays: cluster's primary, hypnode's manager), also per million
// lines. HYPNODE_BENCH_BEFORE=path/to/main.js adds another hypnode build, to compare against.

/** Node's cluster with workers writing to the inherited stdout: the logging section's yardstick. */
export const LOGGING_BASE = 'cluster-none';

export type LogSink = 'file' | 'pipe' | 'journald';
export const LOG_SINKS: readonly LogSink[] = ['file', 'pipe', 'journald'];
const REQUEST_LINE = Buffer.from('"msg":"request completed"');

export interface LoggingRun {
  contender: string;
  sink: LogSink;
  newConnections: boolean;
  round: number;
  requestsPerSec: number;
  linesPerSec: number;
  managerCpuSeconds: number;
  seconds: number;
  error: string | null;
}

interface Started {
  managerPid(): Promise<number | null>;
  /** The request lines that reached the sink so far. */
  lines(): Promise<number>;
  /** What it wrote, for an error: the run's logs, or a unit's lines in the journal. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

interface LogContender {
  name: string;
  /** The command that runs it, with the logging app. */
  command(setup: { workers: number }): string[];
}

const contenders = (): LogContender[] => [
  { name: 'cluster-none', command: () => [process.execPath, nodeApp('cluster-primary')] },
  { name: 'hypnode', command: ({ workers }) => [process.execPath, HYPNODE_CLI, 'start', nodeApp('http'), '--workers', String(workers)] },
  ...(process.env.HYPNODE_BENCH_BEFORE
    ? [{ name: 'hypnode-before', command: ({ workers }: { workers: number }) => [process.execPath, process.env.HYPNODE_BENCH_BEFORE!, 'start', nodeApp('http'), '--workers', String(workers)] }]
    : []),
];

/**
 * `contender`'s req/s over node cluster's, in `runs` of one sink and kind of connections: the
 * median of the rounds' ratios. The two runs of a round are seconds apart, the rounds minutes
 * apart, and this machine's speed drifts by up to a third over minutes.
 */
export function againstCluster(runs: readonly LoggingRun[], contender: string): number | null {
  const base = new Map(runs.filter((x) => x.contender === LOGGING_BASE && x.requestsPerSec > 0).map((x) => [x.round, x.requestsPerSec]));
  return median(runs.filter((x) => x.contender === contender && base.has(x.round)).map((x) => x.requestsPerSec / base.get(x.round)!));
}

export async function runLogging(plan: Plan): Promise<{ runs: LoggingRun[]; skipped: string[] }> {
  const runs: LoggingRun[] = [];
  const skipped: string[] = [];
  const journalSkip = systemdSkipReason();
  let sandbox: SystemdSandbox | null = null;
  if (journalSkip) skipped.push(`journald: ${journalSkip}`);
  else sandbox = await startUserManager(undefined, { journal: true });
  try {
    // As many rounds as the rest: a logging run's req/s moves by up to a third between identical rounds here.
    for (let round = 0; round < plan.repetitions; round++) {
      for (const sink of LOG_SINKS) {
        if (sink === 'journald' && !sandbox) continue;
        for (const newConnections of [false, true]) {
          const list = contenders();
          // Alternating: each round starts with another contender.
          for (let i = 0; i < list.length; i++) {
            const c = list[(i + round) % list.length]!;
            runs.push(await runOne(c, sink, newConnections, round, plan, sandbox));
          }
        }
      }
    }
  } finally {
    await sandbox?.stop();
  }
  return { runs, skipped };
}

async function runOne(c: LogContender, sink: LogSink, newConnections: boolean, round: number, plan: Plan, sandbox: SystemdSandbox | null): Promise<LoggingRun> {
  const run = await openRunDir(`log-${c.name}`, 2, plan.commandCapMs, { BENCH_LOG: '1', NODE_CLUSTER_SCHED_POLICY: 'none' });
  const result: LoggingRun = { contender: c.name, sink, newConnections, round, requestsPerSec: 0, linesPerSec: 0, managerCpuSeconds: 0, seconds: plan.wrkSeconds, error: null };
  let started: Started | null = null;
  try {
    started = sink === 'journald' ? await startUnit(c, run, sandbox!) : startLocal(c, sink, run);
    if (!(await waitForAnswer(run.setup.port, plan.commandCapMs))) throw new Error('no answer');
    await sleep(plan.settleMs);
    const manager = await started.managerPid();
    if (manager === null) throw new Error('no manager pid');
    const linesBefore = await started.lines();
    const ticks = cpuTicks(manager);
    const wrk = await runWrk(run.setup.port, plan.wrkSeconds, newConnections, run.setup.env);
    result.managerCpuSeconds = (cpuTicks(manager) - ticks) / ticksPerSecond();
    result.requestsPerSec = wrk.requestsPerSec;
    // The last lines may still be on their way: a moment for them.
    await sleep(500);
    result.linesPerSec = ((await started.lines()) - linesBefore) / plan.wrkSeconds;
    progress(`logging ${sink} ${newConnections ? 'new conn' : 'keep-alive'} ${c.name}: ${wrk.requestsPerSec.toFixed(0)} req/s, ${result.linesPerSec.toFixed(0)} lines/s, manager ${result.managerCpuSeconds.toFixed(2)} s CPU`);
  } catch (err) {
    result.error = `${(err as Error).message}\n${(await started?.logs().catch(() => '')) ?? run.logs()}`.trim();
    progress(`logging ${sink} ${c.name}: error: ${result.error.split('\n')[0]}`);
  } finally {
    await started?.stop().catch(() => {});
    await run.close();
  }
  return result;
}

/** Output to a file in the run's directory, or to a pipe that `cat` reads into one. */
function startLocal(c: LogContender, sink: 'file' | 'pipe', run: RunDir): Started {
  const out = join(run.setup.dir, 'output.log');
  const [file, ...args] = c.command(run.setup);
  const env = { ...run.setup.env, HYPNODE_RUNTIME_DIR: run.setup.dir };
  let reader: ChildProcess | null = null;
  let child: ChildProcess;
  if (sink === 'file') {
    const fd = openSync(out, 'a');
    child = spawn(file!, args, { env, stdio: ['ignore', fd, fd], detached: true });
    closeSync(fd);
  } else {
    const fd = openSync(out, 'a');
    reader = spawn('cat', [], { env, stdio: ['pipe', fd, 'ignore'] });
    closeSync(fd);
    child = spawn(file!, args, { env, stdio: ['ignore', reader.stdin!, reader.stdin!], detached: true });
    reader.stdin!.destroy();
  }
  child.on('error', () => {});
  return {
    managerPid: async () => child.pid ?? null,
    lines: async () => countIn(out),
    logs: async () => run.logs(),
    async stop() {
      child.kill('SIGTERM');
      await exited(child, 5000);
      if (reader) await exited(reader, 5000);
    },
  };
}

/** A unit of the sandboxed systemd, its output to the sandbox's journald. */
async function startUnit(c: LogContender, run: RunDir, sb: SystemdSandbox): Promise<Started> {
  const unit = `bench-log-${c.name}.service`;
  const env = Object.entries(run.setup.env)
    .filter(([k, v]) => v !== undefined && /^(PORT|BENCH_|NODE_CLUSTER|HYPNODE_RUNTIME_DIR|PATH)/.test(k))
    .map(([k, v]) => `Environment=${JSON.stringify(`${k}=${v}`)}`);
  await sb.writeUnit(
    unit,
    `[Service]\nType=simple\nExecStart=${c.command(run.setup).map((a) => JSON.stringify(a)).join(' ')}\n${env.join('\n')}\nEnvironment=HYPNODE_RUNTIME_DIR=${run.setup.dir}\nStandardOutput=journal\nStandardError=journal\nKillMode=mixed\n`,
  );
  const r = await sb.systemctl('start', unit);
  if (r.code !== 0) throw new Error(`systemctl start ${unit}: ${r.stderr}`);
  const since = (await sb.journal('--show-cursor', '-n', '1', '-o', 'cat')).stdout.match(/-- cursor: (.*)/)?.[1];
  return {
    async managerPid() {
      const pid = Number((await sb.show(unit, ['MainPID'])).MainPID);
      return pid > 0 ? pid : null;
    },
    async lines() {
      // One unit runs at a time: its lines are the journal's since it started.
      const out = await sb.journal('-o', 'cat', ...(since ? ['--after-cursor', since] : []));
      return countBuffer(Buffer.from(out.stdout));
    },
    async logs() {
      const status = await sb.systemctl('status', unit, '--no-pager', '-n', '0');
      const out = await sb.journal('-o', 'cat', '-n', '40', ...(since ? ['--after-cursor', since] : []));
      return `${status.stdout}\n${out.stdout}`;
    },
    async stop() {
      await sb.systemctl('stop', unit);
    },
  };
}

function countIn(path: string): number {
  return existsSync(path) ? countBuffer(readFileSync(path)) : 0;
}

function countBuffer(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(REQUEST_LINE); i >= 0; i = buf.indexOf(REQUEST_LINE, i + REQUEST_LINE.length)) n++;
  return n;
}

function exited(child: ChildProcess, capMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, capMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
