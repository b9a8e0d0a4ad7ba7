import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLoad, type LoadOptions, type LoadResult } from '../../tools/load.js';
import type { Hypnode } from './hypnode.js';

export type LoadTarget = Pick<LoadOptions, 'port' | 'host' | 'socketPath' | 'ca'>;

/** Puts a version of the app on disk, for the next reload to start. */
export type Deploy = (version: string) => void;

/**
 * Reloads `h` to each of `versions` while a bounded load runs against every target, and checks
 * that no request failed and that every version answered. Each version is deployed by `deploy`,
 * or written to version.txt in the directory `deploy` names (the example apps read it at start).
 */
export async function reloadUnderLoad(h: Hypnode, deploy: string | Deploy, targets: LoadTarget[], versions = ['2', '3']): Promise<LoadResult[]> {
  const put = typeof deploy === 'string' ? (version: string) => writeFileSync(join(deploy, 'version.txt'), `${version}\n`) : deploy;
  const loads = targets.map((target) =>
    startLoad({ ...target, durationMs: 30_000, maxRequests: 50_000, keepAliveClients: 3, newConnectionClients: 3, slowEvery: 20 }),
  );
  await new Promise((r) => setTimeout(r, 300));
  for (const version of versions) {
    put(version);
    const r = await h.cli('reload');
    assert.equal(r.code, 0, `reload to ${version} failed: ${r.stderr}\n${h.output}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  const results = await Promise.all(loads.map((l) => l.stop()));
  for (const [i, result] of results.entries()) {
    const where = JSON.stringify(targets[i]).slice(0, 120);
    assert.deepEqual(result.failures, {}, `no request to ${where} may fail during a reload`);
    assert.ok(result.total > 100, `the load on ${where} ran (${result.total} requests)`);
    for (const v of ['1', ...versions]) assert.ok(result.versions[v], `version ${v} answered on ${where}: ${JSON.stringify(result.versions)}`);
  }
  return results;
}
