import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, startLogged } from '../commands.js';
import { freePort } from '../http.js';
import { endPid } from '../owned.js';
import { HYPNODE_CLI, nodeApp } from '../paths.js';
import type { Contender } from './types.js';

// hypnode itself: a foreground manager; `reload` blocks until the new code serves and the old has
// drained. Its control socket lives in the run's own directory (HYPNODE_RUNTIME_DIR), so
// concurrent runs and a user's own instances never meet. The variants add a setting each:
// `hypnode-admin` `--admin` on a loopback port of its own (what the admin endpoint costs the
// manager; nothing scrapes it), `hypnode-unbalanced` `--no-balanced-accept` (balanced accept is
// the default: what it costs and buys, its throughput and spread beside the default's in one run).
function hypnodeContender(name: string, description: string, settings: () => Promise<string[]>): Contender {
  return {
    name,
    description,
    missing: () => (existsSync(HYPNODE_CLI) ? null : `${HYPNODE_CLI} not built yet`),
    async start(setup) {
      const app = nodeApp('http');
      const env = { ...setup.env, HYPNODE_RUNTIME_DIR: setup.dir };
      const cli = (args: string[]) => runCommand(process.execPath, [HYPNODE_CLI, ...args, app], env, setup.commandCapMs);
      const child = startLogged(process.execPath, [HYPNODE_CLI, 'start', app, '--workers', String(setup.workers), ...(await settings())], env, join(setup.dir, 'hypnode.log'));
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

export const hypnode = hypnodeContender('hypnode', 'hypnode', async () => []);
export const hypnodeAdmin = hypnodeContender('hypnode-admin', 'hypnode --admin', async () => ['--admin', `127.0.0.1:${await freePort()}`]);
export const hypnodeUnbalanced = hypnodeContender('hypnode-unbalanced', 'hypnode --no-balanced-accept', async () => ['--no-balanced-accept']);
