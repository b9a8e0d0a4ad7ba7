import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromEnvironment, type SettingSources } from '../../config/resolve.js';
import { SETTINGS } from '../../config/settings.js';
import { UsageError } from '../../errors.js';
import { serviceUnit, socketUnit, unitName, type UnitOptions } from '../../systemd/unit.js';
import type { CliArgs } from '../args.js';
import { locate } from '../instance.js';

// `hypnode unit APP`: prints (or, with --out DIR, writes) the systemd units for APP, which run it
// as `hypnode start APP` run here would: same directory, same flags, same hypnode variables.

const CLI = fileURLToPath(new URL('../main.js', import.meta.url));

export async function unit(args: CliArgs): Promise<number> {
  const { app, settings, sources } = await locate(args);
  const config = args.configPath ?? sources.env.HYPNODE_CONFIG;
  const opts: UnitOptions = {
    app,
    cwd: sources.cwd,
    settings,
    startArgs: startArgs(args.flags),
    appArgs: args.appArgs,
    // Under the current names: a variable given by its former name is written as the new one.
    env: Object.fromEntries(SETTINGS.filter((s) => s.key !== 'name' && s.key !== 'runtimeDir').flatMap((s) => {
      const given = fromEnvironment(s, sources.env);
      return given ? [[s.env, given.value]] : [];
    })),
    node: process.execPath,
    cli: CLI,
    configPath: config ? resolve(sources.cwd, config) : null,
    sockets: args.sockets,
    user: serviceUser(args.user, app),
    group: args.group === null ? null : known('group', args.group, '--group'),
    writable: args.writable.map((p) => resolve(sources.cwd, p)),
    privilegedPorts: args.privilegedPorts,
  };
  const name = unitName(app, settings.name);
  const files: [string, string][] = [[`${name}.service`, serviceUnit(opts)]];
  if (args.sockets.length > 0) files.push([`${name}.socket`, socketUnit(opts)]);
  if (args.out) outDirectory(args.out);
  if (args.out && !args.force) for (const [file] of files) refuseOtherApps(join(args.out, file), app);
  for (const [file, text] of files) {
    if (args.out) {
      writeFileSync(join(args.out, file), text);
      process.stdout.write(`wrote ${join(args.out, file)}\n`);
    } else {
      process.stdout.write(`${text}\n`);
    }
  }
  return 0;
}

/**
 * The flags for ExecStart=, each as `--flag=value`: a value that starts with a dash (node options:
 * `--node-args=--import tsx`) is then the flag's, never taken for a flag of its own.
 * Name and runtime directory are left to the unit, which puts them on the reload's line too.
 */
export function startArgs(flags: SettingSources['flags']): string[] {
  const out: string[] = [];
  for (const s of SETTINGS) {
    const v = flags[s.key];
    if (v === undefined || s.key === 'name' || s.key === 'runtimeDir') continue;
    if (typeof v === 'boolean') out.push(v ? `--${s.flag}` : `--no-${s.flag}`);
    else for (const one of Array.isArray(v) ? v : [v]) out.push(`--${s.flag}=${one}`);
  }
  return out;
}

/** --out names a directory that exists: systemd's own unit directories are never made here. */
function outDirectory(dir: string): void {
  const found = statSync(dir, { throwIfNoEntry: false });
  if (!found) throw new UsageError(`--out ${dir}: no such directory (systemd reads units from /etc/systemd/system, or ~/.config/systemd/user for --user units)`);
  if (!found.isDirectory()) throw new UsageError(`--out ${dir}: not a directory`);
}

/** A unit file of the same name made for another app (or by hand) is not replaced without --force. */
function refuseOtherApps(path: string, app: string): void {
  if (!existsSync(path)) return;
  const made = /^Description=hypnode(?: sockets)?: (.*)$/m.exec(readFileSync(path, 'utf8'))?.[1];
  if (made === app) return;
  const what = made ? `was made for ${made}` : 'was not made by `hypnode unit`';
  throw new UsageError(`${path} ${what}: give this app a unit of its own with --name NAME, or replace it with --force`);
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
