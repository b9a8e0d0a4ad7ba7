import { join } from 'node:path';
import { startLogged } from '../commands.js';
import { endPid } from '../owned.js';
import { nodeApp } from '../paths.js';
import type { Contender } from './types.js';

// The baseline: the app alone in one node process. It has no reload.
export const bareNode: Contender = {
  name: 'node',
  description: 'node:http, 1 process',
  missing: () => null,
  async start(setup) {
    const child = startLogged(process.execPath, [nodeApp('http')], setup.env, join(setup.dir, 'node.log'));
    return {
      managerPid: () => child.pid ?? null,
      stop: () => endPid(child.pid, 'SIGTERM', 5000),
    };
  },
};
