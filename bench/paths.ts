import { fileURLToPath } from 'node:url';

// Where things are, from the compiled rig in dist/bench/: the repository root is two levels up.

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export const ROOT = root('');
/** A compiled bench app (dist/bench/apps/NAME.js). */
export const nodeApp = (name: string) => fileURLToPath(new URL(`./apps/${name}.js`, import.meta.url));
export const PERL_APP = root('bench/apps/app.pl');
export const HYPNODE_CLI = root('dist/src/cli/main.js');
export const PM2_BIN = root('node_modules/.bin/pm2');
export const PM2_PACKAGE = root('node_modules/pm2/package.json');
/** The run's results (latest.json) and charts; not committed. */
export const RESULTS_DIR = root('bench/results/');
export const RESULTS = `${RESULTS_DIR}latest.json`;
/** Where --publish puts the charts and the tables. */
export const BENCHMARKS = root('BENCHMARKS.md');
export const PUBLISHED_CHARTS = root('docs/benchmarks/');
