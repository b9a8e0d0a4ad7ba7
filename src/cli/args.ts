import { parseArgs } from 'node:util';
import type { SettingSources } from '../config/resolve.js';
import { SETTINGS, type SettingKey } from '../config/settings.js';
import { UsageError } from '../errors.js';

// The command line: `hypnode COMMAND APP [options] [-- app arguments]`.

export const COMMAND_NAMES = ['start', 'reload', 'upgrade', 'status', 'stop', 'reopen-logs', 'unit'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export interface CliArgs {
  command: CommandName | 'help' | 'version';
  app: string | undefined;
  flags: SettingSources['flags'];
  /** Everything after --, passed to the app verbatim. */
  appArgs: string[] | null;
  configPath: string | null;
  json: boolean;
  fast: boolean;
  daemon: boolean;
  /** `hypnode unit`: ListenStream= values for a socket unit, and where to write the files. */
  sockets: string[];
  out: string | null;
  /** `hypnode unit`: the directory it runs in (default: this one), and whether it may replace another app's unit. */
  cwd: string | null;
  force: boolean;
  /** `hypnode unit`: who the service runs as, where it may write, whether it binds ports below 1024. */
  user: string | null;
  group: string | null;
  writable: string[];
  privilegedPorts: boolean;
  /** `hypnode start --daemon`: where the daemon's output goes. */
  logFile: string | null;
  /** `hypnode upgrade`: the Node binary the new manager runs on. */
  node: string | null;
}

const EXTRA = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  fast: { type: 'boolean' },
  daemon: { type: 'boolean' },
  socket: { type: 'string', multiple: true },
  out: { type: 'string' },
  cwd: { type: 'string' },
  force: { type: 'boolean' },
  user: { type: 'string' },
  group: { type: 'string' },
  writable: { type: 'string', multiple: true },
  'privileged-ports': { type: 'boolean' },
  'log-file': { type: 'string' },
  node: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export function parseCli(argv: string[]): CliArgs {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { ...EXTRA };
  for (const s of SETTINGS) options[s.flag] = s.kind === 'bool' ? { type: 'boolean' } : { type: 'string', multiple: s.kind === 'list' || s.kind === 'map' || s.kind === 'paths' };
  const dash = argv.indexOf('--');
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const appArgs = dash >= 0 ? argv.slice(dash + 1) : null;
  let parsed;
  try {
    parsed = parseArgs({ args: own, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}; see \`hypnode --help\``);
  }
  const { values, positionals } = parsed;
  if (values.version) return blank('version');
  const [command, app, ...extra] = positionals;
  if (values.help || !command) return blank('help');
  if (!(COMMAND_NAMES as readonly string[]).includes(command)) {
    throw new UsageError(`unknown command "${command}"; expected one of ${COMMAND_NAMES.join(', ')}`);
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"; pass app arguments after --, e.g. \`hypnode start app.js -- --port 3000\``);
  const flags: SettingSources['flags'] = {};
  for (const s of SETTINGS) {
    const v = values[s.flag];
    if (v !== undefined) flags[s.key as SettingKey] = v as string | boolean | string[];
  }
  if (appArgs) {
    if (command !== 'start' && command !== 'unit') throw new UsageError(`app arguments after -- are only for \`hypnode start\` and \`hypnode unit\``);
    if (flags.args) throw new UsageError('give the app arguments either with --args or after --, not both');
  }
  if (values.fast && command !== 'stop') throw new UsageError('--fast goes with `hypnode stop`');
  if (values.json && command !== 'status') throw new UsageError('--json goes with `hypnode status`');
  if (values.daemon && command !== 'start') throw new UsageError('--daemon goes with `hypnode start`');
  if (values['log-file'] && command !== 'start') throw new UsageError('--log-file goes with `hypnode start`');
  if (values.node !== undefined && command !== 'upgrade') throw new UsageError('--node goes with `hypnode upgrade`');
  if (values.node === '') throw new UsageError('--node needs the path of a Node binary');
  if ((values.socket || values.out || values.cwd !== undefined || values.force || values.user || values.group || values.writable || values['privileged-ports']) && command !== 'unit') {
    throw new UsageError('--socket, --out, --cwd, --force, --user, --group, --writable and --privileged-ports go with `hypnode unit`');
  }
  return {
    command: command as CommandName,
    app,
    flags,
    appArgs,
    configPath: (values.config as string | undefined) ?? null,
    json: values.json === true,
    fast: values.fast === true,
    daemon: values.daemon === true,
    sockets: (values.socket as string[] | undefined) ?? [],
    out: (values.out as string | undefined) ?? null,
    cwd: (values.cwd as string | undefined) ?? null,
    force: values.force === true,
    user: (values.user as string | undefined) ?? null,
    group: (values.group as string | undefined) ?? null,
    writable: (values.writable as string[] | undefined) ?? [],
    privilegedPorts: values['privileged-ports'] === true,
    logFile: (values['log-file'] as string | undefined) ?? null,
    node: (values.node as string | undefined) ?? null,
  };
}

function blank(command: 'help' | 'version'): CliArgs {
  return {
    command, app: undefined, flags: {}, appArgs: null, configPath: null, json: false, fast: false, daemon: false,
    sockets: [], out: null, cwd: null, force: false, logFile: null, user: null, group: null, writable: [], privilegedPorts: false, node: null,
  };
}

export function helpText(): string {
  const rows = SETTINGS.map((s) => {
    const applies = s.effect === 'reload' ? '' : ' [start only]';
    return `  --${s.flag.padEnd(20)} ${s.env.padEnd(28)} ${s.doc} (default: ${s.shown})${applies}`;
  });
  return `hypnode: a zero-downtime application server for Node.js that systemd understands

Usage:
  hypnode start APP [options] [-- app arguments]   run APP's workers under a manager (foreground)
  hypnode reload APP                               load the code on disk again; returns when it serves
  hypnode upgrade APP [--node PATH]                replace the manager itself (the hypnode code on
                                                   disk, on Node PATH, default: the Node it was
                                                   started by); returns when the new one serves
  hypnode status APP [--json]                      generation, workers, last reload
  hypnode stop APP [--fast]                        drain and stop (--fast: kill the workers);
                                                   returns once the manager has exited
  hypnode reopen-logs APP                          reopen --log-file (after logrotate moved it)
  hypnode unit APP [options] [--socket LISTEN]... [--out DIR] [--user NAME] [--group NAME]
               [--writable PATH]... [--privileged-ports]
                                                   print (or write) a hardened systemd unit for APP
  hypnode start APP --daemon [--log-file PATH]     for init systems without sd_notify: returns
                                                   once the first generation serves

Options (flag, environment variable, meaning); a config file hypnode.config.json (or .mjs/.js)
beside APP, or --config PATH, holds the same settings by their camelCase names. Precedence:
flags > environment > config file > defaults. A reload reads the config file again; flags and
environment are those given to start. [start only]: a reload never changes it.
  --config PATH              HYPNODE_CONFIG               config file to read instead of the one beside APP
${rows.join('\n')}

Signals to the manager: HUP reload; USR2 upgrade (as \`hypnode upgrade\`); TERM/INT/QUIT stop gracefully (a second TERM/INT: fast);
TTIN/TTOU add/remove a worker; USR1 reopen --log-file.`;
}
