import { accessSync, constants, realpathSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

// Which Node an upgrade starts by default: the one this manager was started with, by the path it
// was started by. process.execPath is that path with its symlinks resolved, so an upgraded
// /usr/bin/node (a new file, or a link to a new version, as nvm, n and Debian's alternatives
// make) would be missed; the name the process was started by, looked up as the kernel did, is not.

export function startedNode(argv0 = process.argv0, env = process.env): string {
  const candidate = argv0.includes('/') ? resolve(argv0) : onPath(argv0, env.PATH ?? '');
  // Only if it is the same program as the one running: a shell may have passed any argv[0].
  return candidate !== null && sameFile(candidate, process.execPath) ? candidate : process.execPath;
}

function onPath(name: string, path: string): string | null {
  for (const dir of path.split(delimiter)) {
    if (!isAbsolute(dir)) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return null;
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}
