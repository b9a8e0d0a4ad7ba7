import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import { latencyBucket, noTraffic, OTHER_ROUTE, ROUTE_LIMIT, type TrafficCounts } from '../protocol/traffic.js';

// Counts this worker's answers (status class, aborted, latency) for the manager's traffic verdict.
// Per request: one 'close' listener, a clock read at each end, and a few integer increments; a
// route is looked at only for a 5xx. The readiness probe's requests are not the app's clients and
// are not counted (drain.ts decides which requests reach here).

export const traffic: TrafficCounts = noTraffic();

const STARTED = Symbol('hypnode.started');

interface TimedResponse extends http.ServerResponse {
  [STARTED]: number;
}

export function countAnswer(res: http.ServerResponse): void {
  (res as TimedResponse)[STARTED] = performance.now();
  // One function for every response, not a closure each: it shows at tens of thousands a second.
  res.on('close', answered);
}

function answered(this: TimedResponse): void {
  if (!this.writableFinished) {
    traffic.aborted++;
    return;
  }
  traffic.latency[latencyBucket(performance.now() - this[STARTED])]++;
  const code = this.statusCode;
  const cls = code >= 500 ? 3 : code >= 400 ? 2 : code >= 300 ? 1 : 0;
  traffic.status[cls]++;
  if (cls === 3) countFailedRoute(this.req);
}

function countFailedRoute(req: http.IncomingMessage): void {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const route = `${req.method} ${(q < 0 ? url : url.slice(0, q)).slice(0, 100)}`;
  const routes = traffic.failedRoutes;
  if (route in routes || Object.keys(routes).length < ROUTE_LIMIT) routes[route] = (routes[route] ?? 0) + 1;
  else routes[OTHER_ROUTE] = (routes[OTHER_ROUTE] ?? 0) + 1;
}
