// What each worker counts of its HTTP answers for the traffic verdict (manager/traffic-verdict.ts),
// sent with its heartbeats as running totals since it started.

/** Latency buckets: bucket i holds answers that took at most bucketBound(i) ms, bounds √2 apart from 0.1 ms; the last takes the rest. */
export const LATENCY_BUCKETS = 48;
const FIRST_BOUND_MS = 0.1;
/** Routes whose 5xx are told apart; the others' go under OTHER_ROUTE (a bounded map, whatever the app's URLs). */
export const ROUTE_LIMIT = 8;
export const OTHER_ROUTE = 'other routes';

export interface TrafficCounts {
  /** Finished answers by status class: below 300 (2xx, and the rare 1xx final), 3xx, 4xx, 5xx. */
  status: [number, number, number, number];
  /** Answers whose connection closed before they were finished (a reset, a client gone, a crash midway). */
  aborted: number;
  /** Finished answers by latency bucket, from the request's arrival to the answer's last byte handed to the kernel. */
  latency: number[];
  /** 5xx by "METHOD /path" (no query). */
  failedRoutes: Record<string, number>;
}

export function bucketBound(i: number): number {
  return i >= LATENCY_BUCKETS - 1 ? Infinity : FIRST_BOUND_MS * 2 ** (i / 2);
}

export function latencyBucket(ms: number): number {
  if (ms <= FIRST_BOUND_MS) return 0;
  return Math.min(LATENCY_BUCKETS - 1, Math.ceil(2 * Math.log2(ms / FIRST_BOUND_MS)));
}

export function noTraffic(): TrafficCounts {
  return { status: [0, 0, 0, 0], aborted: 0, latency: new Array<number>(LATENCY_BUCKETS).fill(0), failedRoutes: {} };
}

/** Requests answered, finished or cut off. */
export function answers(c: TrafficCounts): number {
  return c.status[0] + c.status[1] + c.status[2] + c.status[3] + c.aborted;
}

/** `into` += `add` × `sign`: sums of workers, and the difference of two moments' totals. */
export function addTraffic(into: TrafficCounts, add: TrafficCounts, sign = 1): TrafficCounts {
  for (let i = 0; i < 4; i++) into.status[i] += sign * add.status[i];
  into.aborted += sign * add.aborted;
  for (let i = 0; i < LATENCY_BUCKETS; i++) into.latency[i] += sign * (add.latency[i] ?? 0);
  for (const [route, n] of Object.entries(add.failedRoutes)) into.failedRoutes[route] = (into.failedRoutes[route] ?? 0) + sign * n;
  return into;
}
