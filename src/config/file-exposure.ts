import { statSync } from 'node:fs';
import type { Resolved } from './resolve.js';

// The env files and the config file hold what the app is given to keep secret (a database
// password, an API key). As ssh does for a private key, hypnode says so at start when other
// users may read (or write) one, and how to fix it. The manager's own group is let be: a file
// root:app 0640 read by the service user `app` through its group is the usual setup.

/** A warning for each of the instance's secret-bearing files that others may read or write. */
export function exposureWarnings({ settings, configFile }: Resolved): string[] {
  const files = [...(configFile ? [['config file', configFile] as const] : []), ...settings.envFile.map((p) => ['env file', p] as const)];
  const warnings: string[] = [];
  for (const [what, path] of files) {
    let mode: number;
    let gid: number;
    try {
      ({ mode, gid } = statSync(path));
    } catch {
      continue; // a missing env file fails the start itself, with its own message
    }
    const open = (mode & 0o007) | (gid === process.getegid?.() ? 0 : (mode & 0o070) >> 3);
    if (!open) continue;
    const how = [open & 0o4 ? 'read' : '', open & 0o2 ? 'written' : ''].filter(Boolean).join(' and ');
    if (!how) continue;
    warnings.push(`${what} ${path} may be ${how} by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): it may hold secrets; make it its owner's alone: chmod 600 ${path}`);
  }
  return warnings;
}
