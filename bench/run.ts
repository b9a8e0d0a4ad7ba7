import { CONTENDERS } from './contenders/index.js';
import { hypnode } from './contenders/hypnode.js';
import { describeMachine } from './machine.js';
import { parsePlan, USAGE, UsageError, type Plan } from './options.js';
import { endEverything, guardProcesses } from './owned.js';
import { RESULTS } from './paths.js';
import { progress } from './progress.js';
import { markdown, writeJson, type Results } from './report.js';
import { runLogging } from './logging.js';
import { runUpgrade } from './upgrade.js';
import { runPools } from './pools.js';
import { runScale, scaleBatches } from './scale.js';
import { runTrial, type Trial } from './trial.js';
import { wrkAvailable, WRK } from './wrk.js';

// `npm run bench`: every contender, round after round, then hypnode's scale, logging and upgrade
// sections; the tables
// on stdout, the whole run in bench/results/latest.json.

let plan: Plan;
try {
  const parsed = parsePlan(process.argv.slice(2), CONTENDERS.map((c) => c.name));
  if (parsed === 'help') {
    console.log(USAGE);
    process.exit(0);
  }
  plan = parsed;
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`bench: ${err.message}\n\n${USAGE}`);
  process.exit(2);
}
if (!wrkAvailable()) {
  console.error(`bench: ${WRK} not found (Debian: apt-get install wrk)`);
  process.exit(1);
}

guardProcesses();
const startedAt = new Date().toISOString();
const machine = await describeMachine();
const selected = (name: string) => plan.only === null || plan.only.includes(name);
const contenders = CONTENDERS.filter((c) => selected(c.name)).map((c) => ({ contender: c, skipped: c.missing() }));
for (const { contender, skipped } of contenders) if (skipped) progress(`${contender.name} skipped: ${skipped}`);
const runnable = contenders.filter((c) => !c.skipped).map((c) => c.contender);

try {
  const trials: Trial[] = [];
  for (let round = 0; round < plan.repetitions; round++) {
    // Each round starts one contender later, so none always runs first (or last) of a round.
    const order = runnable.map((_, i) => runnable[(i + round) % runnable.length]!);
    for (const contender of order) trials.push(await runTrial(contender, round, plan));
  }

  const scaleSkipped = !selected('scale') ? null : hypnode.missing();
  const scale = [];
  if (selected('scale') && !scaleSkipped) for (const workers of plan.scaleWorkers) for (const batch of scaleBatches(workers)) scale.push(await runScale(workers, batch, plan));
  else if (scaleSkipped) progress(`scale skipped: ${scaleSkipped}`);

  const logging = selected('logging') && !hypnode.missing() ? await runLogging(plan) : { runs: [], skipped: [] };
  const upgrade = selected('upgrade') && !hypnode.missing() ? await runUpgrade(plan) : { runs: [], skipped: [] };
  const pools = selected('pools') ? await runPools(plan) : [];

  const results: Results = {
    startedAt,
    finishedAt: new Date().toISOString(),
    plan,
    machine,
    contenders: contenders.map(({ contender, skipped }) => ({ name: contender.name, description: contender.description, skipped })),
    trials,
    scale,
    scaleSkipped,
    logging: logging.runs,
    loggingSkipped: logging.skipped,
    upgrade: upgrade.runs,
    pools,
    upgradeSkipped: upgrade.skipped,
  };
  writeJson(RESULTS, results);
  progress(`results in ${RESULTS}`);
  process.stdout.write(markdown(results));
} finally {
  await endEverything();
}
