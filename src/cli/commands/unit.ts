import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../../config/settings.js';
import { UsageError } from '../../errors.js';
import { serviceUnit, socketUnit, unitName, type UnitOptions } from '../../systemd/unit.js';
import type { CliArgs } from '../args.js';
import { locate } from '../instance.js';

// `hypnode unit APP`: prints (or, with --out DIR, writes) the systemd units for APP.

const CLI = fileURLToPath(new URL('../main.js', import.meta.url));

export async function unit(args: CliArgs): Promise<number> {
  const { app, settings, sources } = await locate(args);
  const startArgs: string[] = [];
  for (const s of SETTINGS) {
    const v = args.flags[s.key];
    if (v === undefined || s.key === 'name' || s.key === 'runtimeDir') continue;
    if (v === true) startArgs.push(`--${s.flag}`);
    else for (const one of Array.isArray(v) ? v : [String(v)]) startArgs.push(`--${s.flag}`, one);
  }
  const opts: UnitOptions = {
    app,
    settings,
    startArgs,
    node: process.execPath,
    cli: CLI,
    configPath: args.configPath ? resolve(sources.cwd, args.configPath) : null,
    sockets: args.sockets,
    user: serviceUser(args.user, app),
    group: args.group === null ? null : known('group', args.group, '--group'),
    writable: args.writable.map((p) => resolve(sources.cwd, p)),
    privilegedPorts: args.privilegedPorts,
  };
  const files: [string, string][] = [[`${unitName(app, settings.name)}.service`, serviceUnit(opts)]];
  if (args.sockets.length > 0) files.push([`${unitName(app, settings.name)}.socket`, socketUnit(opts)]);
  for (const [name, text] of files) {
    if (args.out) {
      writeFileSync(join(args.out, name), text);
      process.stdout.write(`wrote ${join(args.out, name)}\n`);
    } else {
      process.stdout.write(`${text}\n`);
    }
  }
  return 0;
}

/**
 * Who the service runs as: --user, else the one running this command, else (for root) the owner
 * of the app's directory. Never root unless asked for by name.
 */
function serviceUser(asked: string | null, app: string): string {
  if (asked !== null) return known('passwd', asked, '--user');
  if (process.getuid?.() !== 0) return userInfo().username;
  const dir = dirname(app);
  const owner = statSync(dir).uid;
  if (owner === 0) {
    throw new UsageError(`${dir} belongs to root: name the user the service runs as with --user NAME (a system user of its own: useradd --system app), or --user root to run it as root`);
  }
  const name = getent('passwd', String(owner));
  if (!name) throw new UsageError(`${dir} belongs to uid ${owner}, which has no user name here: name the user with --user NAME`);
  return name;
}

/** `name` if this machine knows it (a user or group name), else a usage error naming the flag. */
function known(db: 'passwd' | 'group', name: string, flag: string): string {
  if (!getent(db, name)) throw new UsageError(`${flag} ${name}: no such ${db === 'passwd' ? 'user' : 'group'} on this machine`);
  return name;
}

/** The entry's name in the system's user (or group) database, through NSS as login does. */
function getent(db: 'passwd' | 'group', key: string): string | null {
  const r = spawnSync('getent', [db, key], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split(':')[0]! : null;
}
