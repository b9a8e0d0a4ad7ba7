import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, startLogged } from '../commands.js';
import { freePort } from '../http.js';
import { endPid } from '../owned.js';
import { HYPNODE_CLI, nodeApp } from '../paths.js';
import type { Contender } from './types.js';

// hypnode itself: a foreground manager; `reload` blocks until the new code serves and the old has
// drained. Its control socket lives in the run's own directory (HYPNODE_RUNTIME_DIR), so
// concurrent runs and a user's own instances never meet. `hypnode-admin` adds `--admin` on a
// loopback port of its own: what the admin endpoint costs the manager (nothing scrapes it).
function hypnodeContender(admin: boolean): Contender {
  return {
    name: admin ? 'hypnode-admin' : 'hypnode',
    description: admin ? 'hypnode --admin' : 'hypnode',
    missing: () => (existsSync(HYPNODE_CLI) ? null : `${HYPNODE_CLI} not built yet`),
    async start(setup) {
      const app = nodeApp('http');
      const env = { ...setup.env, HYPNODE_RUNTIME_DIR: setup.dir };
      const cli = (args: string[]) => runCommand(process.execPath, [HYPNODE_CLI, ...args, app], env, setup.commandCapMs);
      const adminArgs = admin ? ['--admin', `127.0.0.1:${await freePort()}`] : [];
      const child = startLogged(process.execPath, [HYPNODE_CLI, 'start', app, '--workers', String(setup.workers), ...adminArgs], env, join(setup.dir, 'hypnode.log'));
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
}

export const hypnode = hypnodeContender(false);
export const hypnodeAdmin = hypnodeContender(true);
