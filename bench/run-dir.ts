import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logTail } from './commands.js';
import type { Setup } from './contenders/types.js';
import { freePort } from './http.js';
import { endTagged, newTag, onAbort, taggedEnv } from './owned.js';

// One run of a contender gets its own temporary directory, port, version file and process tag,
// and gives all of them back at the end, whatever happened.

export interface RunDir {
  setup: Setup;
  versionFile: string;
  /** The end of every log the contender wrote, for an error message. */
  logs(): string;
  /** Ends what is left of the run's processes (returns them, "PID command") and removes the directory. */
  close(): Promise<string[]>;
}

export async function openRunDir(name: string, workers: number, commandCapMs: number, extraEnv: Record<string, string> = {}): Promise<RunDir> {
  const dir = mkdtempSync(join(tmpdir(), `hypnode-bench-${name}-`));
  const tag = newTag();
  const port = await freePort();
  const versionFile = join(dir, 'version.txt');
  writeFileSync(versionFile, '1\n');
  const env = taggedEnv(tag, { PORT: String(port), BENCH_VERSION_FILE: versionFile, BENCH_WORKERS: String(workers), ...extraEnv });
  const end = async () => {
    const left = await endTagged(tag);
    rmSync(dir, { recursive: true, force: true });
    return left;
  };
  const unregister = onAbort(end);
  return {
    setup: { dir, port, workers, env, commandCapMs },
    versionFile,
    logs: () =>
      readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.log'))
        .map((f) => `--- ${f}\n${logTail(join(dir, f))}`)
        .join('\n'),
    close() {
      unregister();
      return end();
    },
  };
}
