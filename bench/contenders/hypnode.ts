import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, startLogged } from '../commands.js';
import { endPid } from '../owned.js';
import { HYPNODE_CLI, nodeApp } from '../paths.js';
import type { Contender } from './types.js';

// hypnode itself: a foreground manager; `reload` blocks until the new code serves and the old has
// drained. Its control socket lives in the run's own directory (HYPNODE_RUNTIME_DIR), so
// concurrent runs and a user's own instances never meet.
export const hypnode: Contender = {
  name: 'hypnode',
  description: 'hypnode',
  missing: () => (existsSync(HYPNODE_CLI) ? null : `${HYPNODE_CLI} not built yet`),
  async start(setup) {
    const app = nodeApp('http');
    const env = { ...setup.env, HYPNODE_RUNTIME_DIR: setup.dir };
    const cli = (args: string[]) => runCommand(process.execPath, [HYPNODE_CLI, ...args, app], env, setup.commandCapMs);
    const child = startLogged(process.execPath, [HYPNODE_CLI, 'start', app, '--workers', String(setup.workers)], env, join(setup.dir, 'hypnode.log'));
    return {
      managerPid: () => child.pid ?? null,
      reload: () => cli(['reload']),
      async stop() {
        await cli(['stop']);
        await endPid(child.pid, 'SIGTERM', 5000);
      },
    };
  },
};
