import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** The app's main file, checked and resolved to its real path (which names the instance). */
export function resolveAppFile(arg: string | undefined): string {
  if (!arg) throw new UsageError('missing APP: name the app\'s main file, e.g. `hypnode start app.js`');
  const path = resolve(arg);
  checkAppFile(path);
  return realpathSync(path);
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
