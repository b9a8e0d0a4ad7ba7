import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';

// A node cluster primary with the reload people write first: on SIGHUP fork a new set of
// workers and disconnect an old worker each time a new one listens. The scheduling policy comes
// from NODE_CLUSTER_SCHED_POLICY (rr: the primary accepts and hands sockets to the workers;
// none: the workers accept on a shared socket themselves). No respawn: that is not the point here.

const count = Number(process.env.BENCH_WORKERS ?? 2);
cluster.setupPrimary({ exec: fileURLToPath(new URL('./http.js', import.meta.url)) });

let current = forkSet();

process.on('SIGHUP', () => {
  const old = current;
  current = forkSet();
  for (const worker of current) worker.once('listening', () => old.shift()?.disconnect());
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.disconnect();
    // Busy keep-alive connections can hold a disconnecting worker open for good.
    setTimeout(() => process.exit(0), 3000).unref();
  });
}

function forkSet(): Worker[] {
  return Array.from({ length: count }, () => cluster.fork());
}
