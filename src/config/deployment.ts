import { currentRelease, type Release } from './app-file.js';
import { readEnvFiles } from './env-file.js';
import { resolveSettings, type SettingSources } from './resolve.js';
import type { Settings } from './settings.js';

// What the next generation runs, read afresh from disk each time: the settings (the config file
// again; flags and environment as `hypnode start` was given them), the env files, and the
// release the app's path points to now. A failure here fails the reload, naming the file.

export interface Plan {
  settings: Settings;
  release: Release;
  /** The workers' own environment on top of the manager's: env files, then the `env` setting. */
  env: Record<string, string>;
}

export class Deployment {
  constructor(
    /** As given to `hypnode start`: symlinks kept. */
    readonly app: string,
    private readonly sources: SettingSources,
  ) {}

  /** The plan for settings already resolved (at start). */
  planFor(settings: Settings): Plan {
    const release = currentRelease(this.app, this.sources.cwd);
    // As with node's --env-file, a variable the manager's own environment has keeps its value.
    const fromFiles = Object.entries(readEnvFiles(settings.envFile)).filter(([key]) => !(key in this.sources.env));
    return { settings, release, env: { ...Object.fromEntries(fromFiles), ...settings.env } };
  }

  async next(): Promise<Plan> {
    const { settings } = await resolveSettings(this.sources);
    return this.planFor(settings);
  }
}
