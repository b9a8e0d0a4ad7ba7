import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../commands.js';
import { onAbort, waitGone } from '../owned.js';
import { nodeApp, PM2_BIN } from '../paths.js';
import { readPidFile } from '../proc.js';
import type { Contender } from './types.js';

// PM2 in cluster mode, its daemon under a private PM2_HOME so the user's own PM2 is never touched
// (even `pm2 --version` would start a daemon in ~/.pm2). `graceful` follows PM2's zero-downtime
// advice (docs: "Graceful Start/Shutdown"): the app sends 'ready' and closes its server on SIGINT,
// with wait_ready, listen_timeout 10000 and kill_timeout 3000 as the docs show them.
export function pm2(graceful: boolean): Contender {
  return {
    name: graceful ? 'pm2-graceful' : 'pm2',
    description: graceful ? 'PM2 cluster, app changed per PM2 docs' : 'PM2 cluster, app unchanged',
    missing: () => (existsSync(PM2_BIN) ? null : `${PM2_BIN} not found (npm ci)`),
    async start(setup) {
      const home = join(setup.dir, 'pm2');
      const env = { ...setup.env, PM2_HOME: home };
      const pm2 = (args: string[]) => runCommand(PM2_BIN, args, env, setup.commandCapMs);
      const ecosystem = join(setup.dir, 'ecosystem.json');
      const app = {
        name: 'bench',
        script: nodeApp(graceful ? 'pm2-graceful' : 'http'),
        exec_mode: 'cluster',
        instances: setup.workers,
        ...(graceful ? { wait_ready: true, listen_timeout: 10_000, kill_timeout: 3000 } : {}),
      };
      writeFileSync(ecosystem, JSON.stringify({ apps: [app] }, null, 2));
      const unregister = onAbort(() => pm2(['kill']));
      const started = await pm2(['start', ecosystem]);
      if (started.code !== 0) {
        await pm2(['kill']);
        unregister();
        throw new Error(`pm2 start failed (exit ${started.code}): ${started.output}`);
      }
      const managerPid = () => readPidFile(join(home, 'pm2.pid'));
      return {
        managerPid,
        reload: () => pm2(['reload', 'bench']),
        async stop() {
          const god = managerPid();
          await pm2(['kill']);
          unregister();
          // `pm2 kill` can return while its daemon is still on its way out.
          if (god !== null) await waitGone(god, 5000);
        },
      };
    },
  };
}

