import { CONTENDERS } from './contenders/index.js';
import { hypnode } from './contenders/hypnode.js';
import { describeMachine } from './machine.js';
import { parsePlan, USAGE, UsageError, type Plan } from './options.js';
import { endEverything, guardProcesses } from './owned.js';
import { relative } from 'node:path';
import { charts } from './charts.js';
import { BENCHMARKS, PUBLISHED_CHARTS, RESULTS, RESULTS_DIR, ROOT } from './paths.js';
import { publishResults, writeCharts } from './publish.js';
import { progress } from './progress.js';
import { markdown, writeJson, type Images, type Results } from './report.js';
import { runLogging } from './logging.js';
import { runUpgrade } from './upgrade.js';
import { runPools } from './pools.js';
import { runCpu } from './cpu.js';
import { runVerdict } from './verdict.js';
import { runScale, scaleBatches } from './scale.js';
import { runTrial, type Trial } from './trial.js';
import { wrkAvailable, WRK } from './wrk.js';

// `npm run bench`: every contender, round after round, then hypnode's scale, logging, upgrade,
// pools, CPU-bound pools and traffic-verdict sections; the tables on stdout, the whole run in
// bench/results/latest.json and its charts beside it (with --publish, in BENCHMARKS.md and
// docs/benchmarks/ too).

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
  const cpu = selected('cpu') ? await runCpu(plan) : null;
  const verdict = selected('verdict') && !hypnode.missing() ? await runVerdict(plan) : [];

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
    cpu,
    verdict,
    upgradeSkipped: upgrade.skipped,
  };
  writeJson(RESULTS, results);
  const drawn = charts(results);
  // Image paths relative to the Markdown's own place: the repository root, for both.
  const images = (dir: string): Images => Object.fromEntries(Object.entries(drawn).map(([name, c]) => [name, { path: `${relative(ROOT, dir)}/${c.file}`, alt: c.alt }]));
  writeCharts(RESULTS_DIR, Object.values(drawn));
  progress(`results in ${RESULTS}, charts beside it`);
  process.stdout.write(markdown(results, images(RESULTS_DIR)));
  if (plan.publish) {
    writeCharts(PUBLISHED_CHARTS, Object.values(drawn));
    publishResults(BENCHMARKS, markdown(results, images(PUBLISHED_CHARTS)), plan.only !== null);
    progress(`published: ${BENCHMARKS}, charts in ${PUBLISHED_CHARTS}`);
  }
} finally {
  await endEverything();
}
