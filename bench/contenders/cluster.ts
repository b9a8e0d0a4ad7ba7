import { join } from 'node:path';
import { startLogged } from '../commands.js';
import { endPid } from '../owned.js';
import { nodeApp } from '../paths.js';
import type { Contender } from './types.js';

// node:cluster with the naive reload of bench/apps/cluster-primary.ts, in either scheduling
// policy. Its reload "command" is a SIGHUP, which returns at once and reports nothing.
export function nodeCluster(policy: 'rr' | 'none'): Contender {
  return {
    name: `cluster-${policy}`,
    description: `node cluster, ${policy === 'rr' ? 'round-robin (primary accepts)' : 'workers accept (none)'}`,
    missing: () => null,
    async start(setup) {
      const env = { ...setup.env, NODE_CLUSTER_SCHED_POLICY: policy };
      const child = startLogged(process.execPath, [nodeApp('cluster-primary')], env, join(setup.dir, 'cluster.log'));
      return {
        managerPid: () => child.pid ?? null,
        async reload() {
          const started = performance.now();
          const sent = child.pid !== undefined && child.kill('SIGHUP');
          return { code: sent ? 0 : 1, ms: performance.now() - started, timedOut: false, output: '' };
        },
        stop: () => endPid(child.pid, 'SIGTERM', 5000),
      };
    },
  };
}
