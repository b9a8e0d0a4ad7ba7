import { existsSync } from 'node:fs';
import { appPath, logicalCwd, workingDir } from '../config/app-file.js';
import { resolveLeniently, resolveSettings, type Resolved, type SettingSources } from '../config/resolve.js';
import { trustDir } from '../control/manager-trust.js';
import { candidateDirs, instancePaths, runtimeDir } from '../control/paths.js';
import type { InstancePaths } from '../protocol/control.js';
import type { CliArgs } from './args.js';

// The app, its settings and where its manager listens, as every command works them out.

export interface Instance extends Resolved {
  /** The app's absolute path as given: the instance's name, and what every reload resolves again. */
  app: string;
  sources: SettingSources;
  paths: InstancePaths;
}

function sourcesOf(args: CliArgs, checked: boolean): SettingSources {
  const cwd = args.cwd === null ? logicalCwd() : workingDir(args.cwd, logicalCwd());
  return { flags: args.flags, appArgs: args.appArgs, env: { ...process.env }, appPath: appPath(args.app, cwd, checked), cwd, configPath: args.configPath };
}

/** For `start` and `unit`: every setting must be right. */
export async function locate(args: CliArgs): Promise<Instance> {
  const sources = sourcesOf(args, true);
  const resolved = await resolveSettings(sources);
  const paths = instancePaths(sources.appPath, resolved.settings.name, runtimeDir(resolved.settings.runtimeDir));
  return { app: sources.appPath, sources, paths, ...resolved };
}

/**
 * For the commands that talk to a running manager: it is found even when the config file on
 * disk no longer parses (the error comes back as a warning to show), in the runtime directory
 * `start` would use or in that of a unit made by `hypnode unit`.
 */
export async function find(args: CliArgs): Promise<Instance & { configError: string | null }> {
  const sources = sourcesOf(args, false);
  const resolved = await resolveLeniently(sources);
  const { name, runtimeDir: configured } = resolved.settings;
  const where = candidateDirs(configured).map((dir) => ({ ...instancePaths(sources.appPath, name, dir), named: configured !== null }));
  // A socket in a directory another user made (/tmp/hypnode-UID first) must not hide the real one.
  const found = where.filter((p) => existsSync(p.socket));
  const paths = found.find((p) => !('refusal' in trustDir(p))) ?? found[0] ?? where[0]!;
  return { app: sources.appPath, sources, paths, ...resolved };
}
