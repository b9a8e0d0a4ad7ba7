import { request } from './http.js';

// How evenly new connections reach the workers: `connections` requests, each on its own
// connection, `concurrency` of them open at a time (as wrk -c50 would), tallied by the pid that
// answered. Uneven spreading shows as one worker taking most of them.

export interface Spread {
  connections: number;
  failed: number;
  /** Connections answered per worker pid, busiest first. */
  perWorker: number[];
  /** The busiest worker's share of the answered connections, 0..1. */
  busiestShare: number;
}

export async function measureSpread(port: number, connections: number, concurrency: number): Promise<Spread> {
  const perPid = new Map<string, number>();
  let failed = 0;
  let issued = 0;
  const client = async () => {
    while (issued < connections) {
      issued++;
      const answer = await request(port, { timeoutMs: 5000 }).catch(() => null);
      if (answer?.pid && answer.status === 200) perPid.set(answer.pid, (perPid.get(answer.pid) ?? 0) + 1);
      else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const perWorker = [...perPid.values()].sort((a, b) => b - a);
  const answered = connections - failed;
  return { connections, failed, perWorker, busiestShare: answered > 0 ? (perWorker[0] ?? 0) / answered : 0 };
}
