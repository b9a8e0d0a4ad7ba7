import { parseArgs } from 'node:util';
import type { SettingSources } from '../config/resolve.js';
import { givenOnce, SETTINGS, type SettingKey } from '../config/settings.js';
import { didYouMean } from '../did-you-mean.js';
import { UsageError } from '../errors.js';

// The command line: `hypnode COMMAND [APP] [options] [-- app arguments]`. Each command and each
// option of hypnode's own is described here once: the parser checks by it, `hypnode help` shows it.

export interface CommandSpec {
  /** The usage line's arguments. */
  usage: string;
  summary: string;
  /** Whether it takes APP. */
  app: boolean;
  /** Every setting as a flag (start, unit), or only those that find an instance (name, runtime dir). */
  settings: 'all' | 'identity' | 'none';
}

export const COMMANDS = {
  start: { usage: 'APP [options] [-- app arguments]', app: true, settings: 'all', summary: "run APP's workers under a manager, in the foreground (--daemon: in the background, returning once it serves)" },
  reload: { usage: 'APP [--json]', app: true, settings: 'identity', summary: 'load the code on disk again; returns once the new code serves and the old has drained, non-zero (the old code serving on) when the new code cannot start' },
  rollback: { usage: 'APP [--json]', app: true, settings: 'identity', summary: 'deploy the release that served before the current one (its resolved path, settings and env files as loaded then) by a reload with all its checks; says what a later reload deploys' },
  upgrade: { usage: 'APP [--node PATH] [--json]', app: true, settings: 'identity', summary: 'replace the manager itself (the hypnode code on disk, on Node PATH; default: the Node it runs on); returns once the new one serves' },
  status: { usage: 'APP [--json]', app: true, settings: 'identity', summary: "the generation, the workers, the last reload and the last crash's output; exits 3 when nothing serves" },
  top: { usage: 'APP', app: true, settings: 'identity', summary: "a live view of each worker (CPU, memory, requests/s, connections, event-loop delay) and of a reload's progress, every second" },
  ls: { usage: '[--json]', app: false, settings: 'none', summary: 'every instance this user can control: name, app, generation, workers, state, pid, uptime' },
  stop: { usage: 'APP [--fast] [--json]', app: true, settings: 'identity', summary: 'drain the workers and stop (--fast: kill them); returns once the manager has exited' },
  'reopen-logs': { usage: 'APP [--json]', app: true, settings: 'identity', summary: 'reopen --log-file (after logrotate moved it)' },
  unit: { usage: 'APP [options] [-- app arguments]', app: true, settings: 'all', summary: 'print (or write, --out DIR) a hardened systemd unit that runs APP as `hypnode start` here would' },
  help: { usage: '[COMMAND]', app: false, settings: 'none', summary: 'this help, or a command\'s' },
} satisfies Record<string, CommandSpec>;

export type CommandName = Exclude<keyof typeof COMMANDS, 'help'>;
const NAMES = Object.keys(COMMANDS) as (keyof typeof COMMANDS)[];

export interface OwnOption {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** The value's placeholder in help. */
  value?: string;
  doc: string;
  /** The commands it goes with; none: every command. */
  commands?: (keyof typeof COMMANDS)[];
}

export const OWN_OPTIONS: Record<string, OwnOption> = {
  config: { type: 'string', value: 'PATH', doc: 'the config file to read instead of the one beside APP (HYPNODE_CONFIG)', commands: ['start', 'reload', 'rollback', 'upgrade', 'status', 'top', 'stop', 'reopen-logs', 'unit'] },
  daemon: { type: 'boolean', doc: 'run in the background (for init systems without sd_notify); returns once the first generation serves', commands: ['start'] },
  'log-file': { type: 'string', value: 'PATH', doc: "where the manager's and the workers' output goes (appended; `hypnode reopen-logs` after logrotate)", commands: ['start'] },
  node: { type: 'string', value: 'PATH', doc: 'the Node binary the new manager runs on', commands: ['upgrade'] },
  json: { type: 'boolean', doc: 'print the result as JSON on stdout; a failure as {"ok": false, "code": ..., "error": ...}', commands: ['reload', 'rollback', 'upgrade', 'status', 'ls', 'stop', 'reopen-logs'] },
  fast: { type: 'boolean', doc: 'kill the workers instead of draining them', commands: ['stop'] },
  out: { type: 'string', value: 'DIR', doc: 'write the unit files into DIR (/etc/systemd/system) instead of printing them', commands: ['unit'] },
  cwd: { type: 'string', value: 'DIR', doc: "the service's working directory (default: this one); APP and relative paths are taken from it", commands: ['unit'] },
  force: { type: 'boolean', doc: "replace a unit of the same name that was made for another app", commands: ['unit'] },
  socket: { type: 'string', multiple: true, value: 'LISTEN', doc: 'a socket unit that listens here (ListenStream=: a port, host:port, a path); repeat for more', commands: ['unit'] },
  user: { type: 'string', value: 'NAME', doc: 'the user the service runs as (default: you; for root, the owner of APP\'s directory)', commands: ['unit'] },
  group: { type: 'string', value: 'NAME', doc: 'its group', commands: ['unit'] },
  writable: { type: 'string', multiple: true, value: 'PATH', doc: 'a directory the app may write to (the rest is read-only); repeat for more', commands: ['unit'] },
  'privileged-ports': { type: 'boolean', doc: 'the app binds ports below 1024 itself: keep that one capability', commands: ['unit'] },
  help: { type: 'boolean', short: 'h', doc: 'show help' },
  version: { type: 'boolean', short: 'v', doc: "hypnode's version, Node's, and the native addon in use" },
};

export interface CliArgs {
  command: CommandName | 'help' | 'version';
  /** `hypnode help COMMAND`, `hypnode COMMAND --help`: the command helped with. */
  helpFor: CommandName | null;
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

/** What a setting's flag takes, as help shows it. */
export function placeholder(kind: (typeof SETTINGS)[number]['kind'], value?: string): string | undefined {
  if (value) return value;
  return { int: 'N', number: 'N', seconds: 'SECONDS', string: 'VALUE', bool: undefined, list: 'ARGS', paths: 'PATH', map: 'KEY=VALUE' }[kind];
}

/** The flags `command` takes, by name (settings and hypnode's own). */
export function flagsOf(command: keyof typeof COMMANDS): string[] {
  const spec: CommandSpec = COMMANDS[command];
  const settings = spec.settings === 'all' ? SETTINGS : spec.settings === 'identity' ? SETTINGS.filter((s) => s.key === 'name' || s.key === 'runtimeDir') : [];
  const own = Object.entries(OWN_OPTIONS).filter(([, o]) => !o.commands || o.commands.includes(command)).map(([f]) => f);
  return [...settings.map((s) => s.flag), ...own];
}

type ParseOptions = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

function parseOptions(): ParseOptions {
  const options: ParseOptions = {};
  for (const [flag, o] of Object.entries(OWN_OPTIONS)) options[flag] = { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) };
  for (const s of SETTINGS) {
    const option: ParseOptions[string] = s.kind === 'bool' ? { type: 'boolean' } : { type: 'string', multiple: s.kind === 'list' || s.kind === 'map' || s.kind === 'paths' };
    options[s.flag] = option;
    if (s.formerly) options[s.formerly.flag] = option;
    // A switch that may be on by default is turned off as git's are: --no-FLAG.
    if (s.kind === 'bool') options[`no-${s.flag}`] = option;
  }
  return options;
}

/**
 * `--workers -1`, `--node-args "--import tsx"`: a value that starts with a dash is the flag's
 * value unless it is itself a known flag (node's parser would call it ambiguous).
 */
function joinDashValues(args: string[], options: ParseOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    const name = /^--([^=]+)$/.exec(arg)?.[1];
    const isFlag = (a: string) => /^--?[^-]/.test(a) && (a.startsWith('--') ? a.slice(2).split('=')[0]! in options : Object.values(options).some((o) => o.short === a.slice(1, 2)));
    if (name && options[name]?.type === 'string' && next !== undefined && next.startsWith('-') && next !== '--' && !isFlag(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

export function parseCli(argv: string[]): CliArgs {
  const options = parseOptions();
  const dash = argv.indexOf('--');
  const own = joinDashValues(dash >= 0 ? argv.slice(0, dash) : argv, options);
  const appArgs = dash >= 0 ? argv.slice(dash + 1) : null;
  const command = own.find((a) => !a.startsWith('-'));
  const known = command !== undefined && (NAMES as string[]).includes(command) ? (command as keyof typeof COMMANDS) : null;
  let parsed;
  try {
    parsed = parseArgs({ args: own, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(parseError(err as Error & { code?: string }, known));
  }
  const { values, positionals } = parsed;
  if (values.version) return blank('version', null);
  if (!command) return blank('help', null);
  if (!known) throw new UsageError(`unknown command "${command}"${didYouMean(command, NAMES)}; see \`hypnode help\``);
  if (known === 'help') {
    const about = positionals[1];
    if (about !== undefined && !(NAMES as string[]).includes(about)) throw new UsageError(`no command "${about}"${didYouMean(about, NAMES)}; see \`hypnode help\``);
    return blank('help', about === undefined || about === 'help' ? null : (about as CommandName));
  }
  if (values.help) return blank('help', known);
  const [, app, ...extra] = positionals;
  const spec: CommandSpec = COMMANDS[known];
  if (!spec.app && app !== undefined) throw new UsageError(`\`hypnode ${known}\` takes no APP (got "${app}")`);
  if (extra.length > 0) {
    throw new UsageError(`unexpected argument "${extra[0]}"; pass app arguments after --, e.g. \`hypnode ${known === 'unit' ? 'unit' : 'start'} app.js -- --port 3000\``);
  }
  // A flag of another command: said with the commands it goes with.
  const allowed = new Set(flagsOf(known));
  for (const flag of Object.keys(values)) {
    const setting = SETTINGS.some((s) => s.flag === flag || s.formerly?.flag === flag || (s.kind === 'bool' && flag === `no-${s.flag}`));
    if (allowed.has(flag) || (setting && spec.settings !== 'none')) continue;
    const goes = OWN_OPTIONS[flag]?.commands?.map((c) => `\`hypnode ${c}\``).join(', ') ?? 'the commands that take APP';
    throw new UsageError(`--${flag} goes with ${goes}, not \`hypnode ${known}\``);
  }
  const flags: SettingSources['flags'] = {};
  for (const s of SETTINGS) {
    const given = givenOnce(s.flag, s.formerly?.flag, (flag) => values[flag], (flag) => `--${flag}`);
    if (s.kind === 'bool' && values[`no-${s.flag}`]) {
      if (given) throw new UsageError(`--${s.flag} and --no-${s.flag}: give one of them`);
      flags[s.key as SettingKey] = false;
    } else if (given) flags[s.key as SettingKey] = given.value as string | boolean | string[];
  }
  if (appArgs) {
    if (known !== 'start' && known !== 'unit') throw new UsageError(`app arguments after -- are only for \`hypnode start\` and \`hypnode unit\``);
    if (flags.args) throw new UsageError('give the app arguments either with --args or after --, not both');
  }
  if (values.node === '') throw new UsageError('--node needs the path of a Node binary');
  return {
    command: known,
    helpFor: null,
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

/** node's parseArgs errors, in hypnode's words. */
function parseError(err: Error & { code?: string }, command: keyof typeof COMMANDS | null): string {
  const see = command && command !== 'help' ? `\`hypnode help ${command}\`` : '`hypnode help`';
  const option = /'(-[^' ]+)/.exec(err.message)?.[1] ?? '';
  const name = option.replace(/^-+/, '').split('=')[0]!;
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const candidates = command && command !== 'help' ? flagsOf(command) : Object.keys(parseOptions());
      return `unknown option ${option}${didYouMean(name, candidates, (c) => `--${c}`)}; see ${see}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(err.message)) return `--${name} takes no value; see ${see}`;
      return `--${name} needs a value; see ${see}`;
    default:
      return `${err.message}; see ${see}`;
  }
}

function blank(command: 'help' | 'version', helpFor: CommandName | null): CliArgs {
  return {
    command, helpFor, app: undefined, flags: {}, appArgs: null, configPath: null, json: false, fast: false, daemon: false,
    sockets: [], out: null, cwd: null, force: false, logFile: null, user: null, group: null, writable: [], privilegedPorts: false, node: null,
  };
}
