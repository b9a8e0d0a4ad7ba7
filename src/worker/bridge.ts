// The app may import 'hypnode' from its own node_modules, a different copy from the one whose
// preload runs in the worker; a registered symbol on globalThis joins the two.

/** What hypnode needs of a prom-client Registry: its metrics as JSON, for the manager to sum over the workers. */
export interface MetricsSource {
  getMetricsAsJSON(): Promise<unknown[]> | unknown[];
}

export interface WorkerBridge {
  readonly generation: number;
  readonly slot: number;
  readonly draining: boolean;
  ready(): void;
  holdReady(): () => void;
  onDrain(listener: () => void): void;
  exposeMetrics(source: MetricsSource): void;
}

const KEY = Symbol.for('hypnode.worker');

export function installBridge(bridge: WorkerBridge): void {
  (globalThis as Record<symbol, unknown>)[KEY] = bridge;
}

export function getBridge(): WorkerBridge | undefined {
  return (globalThis as Record<symbol, unknown>)[KEY] as WorkerBridge | undefined;
}
