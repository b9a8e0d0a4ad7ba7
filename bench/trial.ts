import type { Contender, Instance } from './contenders/types.js';
import { waitForAnswer } from './http.js';
import type { Plan } from './options.js';
import { cpuDuring, idleUsage, type Usage } from './proc.js';
import { progress, sleep } from './progress.js';
import { brokenReload, reloadUnderLoad, type BrokenOutcome, type ReloadOutcome } from './reload.js';
import { openRunDir } from './run-dir.js';
import { measureSpread, type Spread } from './spread.js';
import { ms } from './stats.js';
import { runWrk, type WrkResult } from './wrk.js';

// One round of one contender, from a fresh start to a full stop: startup, idle footprint,
// connection spread, throughput, a reload under load and, in the first round, a broken reload.

const WORKERS = 2;
const STARTUP_CAP_MS = 30_000;

export interface Trial {
  contender: string;
  round: number;
  startupMs: number | null;
  idle: Usage | null;
  spread: Spread | null;
  keepAlive: WrkResult | null;
  newConnections: WrkResult | null;
  /**
   * CPU time of the contender's processes (manager and workers) per request answered, in µs: the
   * work a request cost, apart from how much of the machine the contender got (wrk, here on the
   * same cores, is not counted). On a VM it still moves with how fast the host lets the cores run.
   */
  keepAliveCpuUs: number | null;
  newConnectionsCpuUs: number | null;
  reload: ReloadOutcome | null;
  broken: BrokenOutcome | null;
  /** Processes still there after the contender's own stop, which the rig had to end ("PID command"). */
  leftovers: string[];
  error: string | null;
}

export async function runTrial(contender: Contender, round: number, plan: Plan): Promise<Trial> {
  const say = (message: string) => progress(`round ${round + 1}/${plan.repetitions} ${contender.name}: ${message}`);
  const run = await openRunDir(contender.name, WORKERS, plan.commandCapMs);
  const { port, env } = run.setup;
  const trial: Trial = {
    contender: contender.name,
    round,
    startupMs: null,
    idle: null,
    spread: null,
    keepAlive: null,
    newConnections: null,
    keepAliveCpuUs: null,
    newConnectionsCpuUs: null,
    reload: null,
    broken: null,
    leftovers: [],
    error: null,
  };
  let instance: Instance | null = null;
  try {
    const started = performance.now();
    instance = await contender.start(run.setup);
    if (!(await waitForAnswer(port, STARTUP_CAP_MS))) throw new Error(`no answer within ${STARTUP_CAP_MS / 1000} s`);
    trial.startupMs = performance.now() - started;
    say(`answers ${ms(trial.startupMs)} after start`);
    await sleep(plan.settleMs);

    const manager = instance.managerPid();
    if (manager !== null) trial.idle = await idleUsage(manager, plan.idleMs);
    trial.spread = await measureSpread(port, plan.spreadConnections, plan.spreadConcurrency);
    say(`idle manager ${trial.idle?.managerRssMb.toFixed(0) ?? '?'} MB; connections per worker ${trial.spread.perWorker.join('/')}`);

    const load = async (newConnections: boolean) => {
      const { value, seconds } = await cpuDuring(manager, () => runWrk(port, plan.wrkSeconds, newConnections, env));
      return { wrk: value, cpuUs: seconds === null || value.requests === 0 ? null : (seconds / value.requests) * 1e6 };
    };
    const keepAlive = await load(false);
    const fresh = await load(true);
    [trial.keepAlive, trial.keepAliveCpuUs, trial.newConnections, trial.newConnectionsCpuUs] = [keepAlive.wrk, keepAlive.cpuUs, fresh.wrk, fresh.cpuUs];
    const perRequest = (us: number | null) => (us === null ? '' : `, ${us.toFixed(0)} µs CPU a request`);
    say(`wrk ${keepAlive.wrk.requestsPerSec.toFixed(0)} req/s keep-alive${perRequest(keepAlive.cpuUs)}, ${fresh.wrk.requestsPerSec.toFixed(0)} req/s new connections${perRequest(fresh.cpuUs)}`);

    if (instance.reload) {
      const r = (trial.reload = await reloadUnderLoad(instance, run.versionFile, port, plan, '2'));
      const everywhere = r.newEverywhereMs === null ? 'not within the run' : ms(r.newEverywhereMs);
      say(`reload exit ${r.command.code} after ${ms(r.command.ms)}, new code everywhere ${everywhere}, ${r.failed}/${r.requests} failed`);
      if (plan.brokenReload && round === 0) {
        const b = (trial.broken = await brokenReload(instance, run.versionFile, port));
        say(`reload to throwing code: exit ${b.command.code} after ${ms(b.command.ms)}, ${b.answered}/${b.probes} answered afterwards`);
      }
    }
  } catch (err) {
    trial.error = `${(err as Error).message}\n${run.logs()}`.trim();
    say(`error: ${trial.error}`);
  } finally {
    await instance?.stop().catch((err: Error) => say(`stop failed: ${err.message}`));
    trial.leftovers = await run.close();
    if (trial.leftovers.length) say(`outlived its stop, ended by the rig: ${trial.leftovers.join('; ')}`);
  }
  return trial;
}
