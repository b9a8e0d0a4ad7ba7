import { resolveAppFile } from '../config/app-file.js';
import { resolveSettings, type Resolved, type SettingSources } from '../config/resolve.js';
import { instancePaths, runtimeDir, type InstancePaths } from '../control/paths.js';
import type { CliArgs } from './args.js';

/** The app, its settings and where its manager listens, as every command works them out. */
export interface Instance extends Resolved {
  app: string;
  sources: SettingSources;
  paths: InstancePaths;
}

export async function locate(args: CliArgs): Promise<Instance> {
  const app = resolveAppFile(args.app);
  const sources: SettingSources = { flags: args.flags, appArgs: args.appArgs, env: { ...process.env }, appPath: app, configPath: args.configPath };
  const resolved = await resolveSettings(sources);
  const paths = instancePaths(app, resolved.settings.name, runtimeDir(resolved.settings.runtimeDir));
  return { app, sources, paths, ...resolved };
}
