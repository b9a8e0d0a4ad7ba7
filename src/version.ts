import { createRequire } from 'node:module';

// hypnode's own version, from the package.json of the code this process runs: after an upgrade
// of the files on disk, a manager started before it still says the version it runs.

export const HYPNODE_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
