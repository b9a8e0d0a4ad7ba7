import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

// Deploys flip a symlink (`current` -> `releases/N`) and reload by the same path. So the app is
// known by the path it was started with, never by the real path it had then: the instance is
// named by it, and every generation resolves it afresh to the release it points to now.

/**
 * The directory the command runs in, as the shell named it: $PWD when it is this directory (the
 * kernel's getcwd() has already resolved any symlink in it), else the real path.
 */
export function logicalCwd(env: NodeJS.ProcessEnv = process.env): string {
  const real = process.cwd();
  const pwd = env.PWD;
  if (pwd && pwd.startsWith('/')) {
    try {
      if (realpathSync(pwd) === real) return resolve(pwd);
    } catch {
      // A stale PWD: the real path it is.
    }
  }
  return real;
}

/** `--cwd DIR`, from `base`: a directory that exists, symlinks kept. */
export function workingDir(arg: string, base: string): string {
  const dir = resolve(base, arg);
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    throw new UsageError(`--cwd ${dir} does not exist`);
  }
  if (!stat.isDirectory()) throw new UsageError(`--cwd ${dir} is not a directory`);
  return dir;
}

/**
 * The app's main file as an absolute path, symlinks kept. `checked`: it must be a readable file
 * (to start it; a running instance is found by its path alone, even once the file is gone).
 * A bare name that is no file here is a package's script, found as npx finds it: in
 * node_modules/.bin here or in a directory above (`hypnode start react-router-serve`).
 */
export function appPath(arg: string | undefined, cwd: string, checked = true): string {
  if (!arg) throw new UsageError("missing APP: name the app's main file, e.g. `hypnode start app.js`");
  const path = resolve(cwd, arg);
  const script = !arg.includes('/') && !existsSync(path) ? binScript(arg, cwd) : null;
  if (checked) checkAppFile(script ?? path);
  return script ?? path;
}

function binScript(name: string, cwd: string): string | null {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const path = join(dir, 'node_modules', '.bin', name);
    if (existsSync(path)) return path;
    if (dir === dirname(dir)) return null;
  }
}

/** Where a generation's code is: the app file and working directory with every symlink resolved now. */
export interface Release {
  app: string;
  cwd: string;
}

export function currentRelease(app: string, cwd: string): Release {
  checkAppFile(app);
  let dir: string;
  try {
    dir = realpathSync(cwd);
  } catch {
    throw new UsageError(`working directory ${cwd} does not exist any more (was its release removed?)`);
  }
  return { app: realpathSync(app), cwd: dir };
}

export function checkAppFile(path: string): void {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new UsageError(`app file ${path} does not exist`);
  }
  if (stat.isDirectory()) throw new UsageError(`app ${path} is a directory: name its main file, e.g. ${resolve(path, 'index.js')}`);
  if (!stat.isFile()) throw new UsageError(`app ${path} is not a regular file`);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new UsageError(`app file ${path} is not readable by this user`);
  }
}
