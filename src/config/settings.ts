import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';
import { boolean, describeProblem, either, list, map, nullable, number, oneOf, string, type Rule, type RuleType } from './rules.js';

// One table holds every setting: its config-file key, CLI flag, environment variable, type,
// default, whether a reload applies a new value, and the words `hypnode --help` and the README
// show. The rules that check values (rules.ts), the flags, --help and the README's settings table
// are all made from it.
// Names follow hypnotoad's where the meaning is the same, PM2's for what hypnotoad lacks.

/** How a flag or environment variable is written: a list is a repeated flag (or space-separated). */
export type SettingKind = 'int' | 'number' | 'seconds' | 'string' | 'bool' | 'list' | 'paths' | 'map';

/**
 * `reload`: a reload applies a new value from the config file (flags and environment are those
 * `hypnode start` was given); `start`: the value is the one the manager started with.
 */
export type TakesEffect = 'reload' | 'start';

interface Def<T> {
  flag: string;
  env: string;
  kind: SettingKind;
  rule: Rule<T>;
  default: () => T;
  /** The default as the docs show it. */
  shown: string;
  /** The flag's value in help, when its kind says too little (PATH, NAME). */
  value?: string;
  effect: TakesEffect;
  doc: string;
  /** The names it had before, still accepted (a config file, a unit or a script written for them keeps working). */
  formerly?: FormerNames;
}

export interface FormerNames {
  key: string;
  flag: string;
  env: string;
}

const seconds = number({ above: 0 });
const def = <T>(d: Def<T>): Def<T> => d;

const TABLE = {
  workers: def({ flag: 'workers', env: 'HYPNODE_WORKERS', kind: 'int', rule: number({ whole: true, min: 1, max: 512 }), default: () => availableParallelism(),
    shown: 'CPUs', effect: 'reload', doc: 'worker processes per generation' }),
  gracefulTimeout: def({ flag: 'graceful-timeout', env: 'HYPNODE_GRACEFUL_TIMEOUT', kind: 'seconds', rule: seconds, default: () => 30,
    shown: '30', effect: 'reload', doc: 'seconds an old worker may take to finish its in-flight requests before it is killed' }),
  heartbeatInterval: def({ flag: 'heartbeat-interval', env: 'HYPNODE_HEARTBEAT_INTERVAL', kind: 'seconds', rule: seconds, default: () => 1,
    shown: '1', effect: 'reload', doc: 'seconds between heartbeats from each worker' }),
  heartbeatTimeout: def({ flag: 'heartbeat-timeout', env: 'HYPNODE_HEARTBEAT_TIMEOUT', kind: 'seconds', rule: seconds, default: () => 10,
    shown: '10', effect: 'reload', doc: 'seconds without a heartbeat after which a worker counts as hung and is killed and replaced' }),
  // hypnotoad's upgrade_timeout, once: in hypnode an upgrade replaces the manager, so the name says what it waits for.
  readyTimeout: def({ flag: 'ready-timeout', env: 'HYPNODE_READY_TIMEOUT', kind: 'seconds', rule: seconds, default: () => 60,
    shown: '60', effect: 'reload', doc: 'seconds a new worker may take to become ready before it is killed (and a reload fails)',
    formerly: { key: 'upgradeTimeout', flag: 'upgrade-timeout', env: 'HYPNODE_UPGRADE_TIMEOUT' } }),
  readyPath: def({ flag: 'ready-path', env: 'HYPNODE_READY_PATH', kind: 'string', value: 'PATH',
    rule: string({ pattern: [/^(off|\/\S*)$/, 'a path starting with /, or "off"'] }), default: (): string => '/',
    shown: '/', effect: 'reload', doc: 'the path of the readiness probe each HTTP server must answer below 500 before its worker is ready ("off": listening is ready)' }),
  probation: def({ flag: 'probation', env: 'HYPNODE_PROBATION', kind: 'seconds', rule: number({ min: 0 }), default: () => 2,
    shown: '2', effect: 'reload', doc: 'seconds after a reload switches traffic in which a new worker that dies fails the reload, and the old workers serve again (0: none)' }),
  verdict: def({ flag: 'verdict', env: 'HYPNODE_VERDICT', kind: 'string', value: 'on|off|require', rule: oneOf(['on', 'off', 'require']), default: (): 'on' | 'off' | 'require' => 'on',
    shown: 'on', effect: 'reload',
    doc: 'judge a reload by its traffic in the probation (see Judged by its traffic): a new code worse than the old fails the reload and the old serves again; "require": too little traffic fails it too, after probing --ready-path for up to --verdict-max-wait' }),
  verdictConfidence: def({ flag: 'verdict-confidence', env: 'HYPNODE_VERDICT_CONFIDENCE', kind: 'number', value: 'PERCENT', rule: number({ above: 50, max: 99.9999 }), default: () => 99.9,
    shown: '99.9', effect: 'reload', doc: 'how sure the traffic verdict must be that the new code is worse before it refuses it' }),
  verdictMinRequests: def({ flag: 'verdict-min-requests', env: 'HYPNODE_VERDICT_MIN_REQUESTS', kind: 'int', rule: number({ whole: true, min: 1 }), default: () => 500,
    shown: '500', effect: 'reload', doc: 'requests each of the new and the old code must have answered for a traffic verdict' }),
  verdictErrorMargin: def({ flag: 'verdict-error-margin', env: 'HYPNODE_VERDICT_ERROR_MARGIN', kind: 'number', value: 'POINTS', rule: number({ min: 0, max: 100 }), default: () => 1,
    shown: '1', effect: 'reload', doc: 'percentage points of 5xx (and answers cut off) above the old code\'s share that count as worse' }),
  verdictSlowerBy: def({ flag: 'verdict-slower-by', env: 'HYPNODE_VERDICT_SLOWER_BY', kind: 'number', value: 'PERCENT', rule: number({ min: 0 }), default: () => 50,
    shown: '50', effect: 'reload', doc: 'percent by which the new code\'s median or p99 latency must exceed the old\'s (and by 10 ms at least) to count as worse' }),
  verdictMaxWait: def({ flag: 'verdict-max-wait', env: 'HYPNODE_VERDICT_MAX_WAIT', kind: 'seconds', rule: number({ min: 0 }), default: () => 30,
    shown: '30', effect: 'reload', doc: 'with --verdict require: seconds the probation may be extended to gather the sample' }),
  startTries: def({ flag: 'start-tries', env: 'HYPNODE_START_TRIES', kind: 'int', rule: number({ whole: true, min: 0 }),
    // Under systemd a start that cannot succeed must fail, so that `systemctl start` says why in seconds.
    default: () => (process.env.NOTIFY_SOCKET ? 3 : 0), shown: '3 under systemd, else 0 (forever)', effect: 'start',
    doc: 'on the first start, give up (exit 1 with the app\'s last output) once a worker slot\'s worker died before it was ready this many times; 0: retry forever with backoff' }),
  accepts: def({ flag: 'accepts', env: 'HYPNODE_ACCEPTS', kind: 'int', rule: number({ whole: true, min: 0 }), default: () => 0,
    shown: '0 (never)', effect: 'reload', doc: 'replace a worker gracefully after it accepted this many connections' }),
  acceptsJitter: def({ flag: 'accepts-jitter', env: 'HYPNODE_ACCEPTS_JITTER', kind: 'int', rule: number({ whole: true, min: 0 }), default: () => 0,
    shown: '0', effect: 'reload', doc: "each worker adds a random 0 to N to --accepts, so that workers started together are not replaced together (gunicorn's max_requests_jitter)" }),
  reloadBatch: def({ flag: 'reload-batch', env: 'HYPNODE_RELOAD_BATCH', kind: 'string', value: 'N|N%',
    rule: nullable(either(number({ whole: true, min: 1 }), string({ pattern: [/^([1-9]\d*|([1-9]\d?|100)%)$/, 'a number of workers (4) or a percentage of them (25%)'] }))),
    default: (): number | string | null => null, shown: 'all at once', effect: 'reload',
    doc: 'replace the workers this many (or this share) at a time: the first batch is a canary; memory peaks at workers + batch instead of twice the workers; also the most workers replaced at once by the limits (--accepts, --max-rss)' }),
  balancedAccept: def({ flag: 'balanced-accept', env: 'HYPNODE_BALANCED_ACCEPT', kind: 'bool', rule: boolean, default: () => true,
    shown: 'true', effect: 'reload', doc: "a worker that holds more than its share of open connections stops accepting until the others catch up, so that a proxy's few keep-alive connections spread over every worker (see Balanced accept; --no-balanced-accept turns it off)" }),
  maxRss: def({ flag: 'max-rss', env: 'HYPNODE_MAX_RSS', kind: 'int', rule: number({ whole: true, min: 0 }), default: () => 0,
    shown: '0 (never)', effect: 'reload', doc: "replace a worker gracefully once its resident memory exceeds this many MiB (PM2's max_memory_restart)" }),
  waitReady: def({ flag: 'wait-ready', env: 'HYPNODE_WAIT_READY', kind: 'bool', rule: boolean, default: () => false,
    shown: 'false', effect: 'reload', doc: "a worker is ready only once the app says so too (process.send('ready') or ready() from 'hypnode')" }),
  nodeArgs: def({ flag: 'node-args', env: 'HYPNODE_NODE_ARGS', kind: 'list', rule: list(string()), default: (): string[] => [],
    shown: 'none', effect: 'reload', doc: 'node options for the workers, space-separated (e.g. "--max-old-space-size=512")' }),
  args: def({ flag: 'args', env: 'HYPNODE_ARGS', kind: 'list', rule: list(string()), default: (): string[] => [],
    shown: 'none', effect: 'reload', doc: 'arguments for the app (also: everything after --)' }),
  env: def({ flag: 'env', env: 'HYPNODE_ENV', kind: 'map', rule: map(string()), default: (): Record<string, string> => ({}),
    shown: 'none', effect: 'reload', doc: 'environment for the workers, KEY=VALUE (the flag may repeat)' }),
  envFile: def({ flag: 'env-file', env: 'HYPNODE_ENV_FILE', kind: 'paths', rule: list(string({ nonEmpty: true })), default: (): string[] => [],
    shown: 'none', effect: 'reload', doc: "dotenv files for the workers, as node's --env-file reads them, read again on every reload (the flag may repeat; the variable takes paths separated by :)" }),
  pidFile: def({ flag: 'pid-file', env: 'HYPNODE_PID_FILE', kind: 'string', value: 'PATH', rule: nullable(string({ nonEmpty: true })), default: (): string | null => null,
    shown: 'none', effect: 'start', doc: "write the manager's PID here (atomically; removed on exit)" }),
  name: def({ flag: 'name', env: 'HYPNODE_NAME', kind: 'string', value: 'NAME', rule: nullable(string({ pattern: [/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)'] })),
    default: (): string | null => null, shown: 'none', effect: 'start', doc: 'instance name, to run the same app file more than once' }),
  runtimeDir: def({ flag: 'runtime-dir', env: 'HYPNODE_RUNTIME_DIR', kind: 'string', value: 'DIR', rule: nullable(string({ nonEmpty: true })), default: (): string | null => null,
    shown: 'see Runtime directory', effect: 'start', doc: 'where the control socket lives' }),
  admin: def({ flag: 'admin', env: 'HYPNODE_ADMIN', kind: 'string', value: 'ADDRESS',
    rule: nullable(string({ pattern: [/^(\/.+|(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}|\d{1,5})$/, 'host:port, a port (on 127.0.0.1), or the absolute path of a unix socket'],
      also: [(a) => a.startsWith('/') || (Number(/\d+$/.exec(a)![0]) >= 1 && Number(/\d+$/.exec(a)![0]) <= 65535), 'a port from 1 to 65535'] })),
    default: (): string | null => null, shown: 'off', effect: 'start',
    doc: 'serve /metrics (Prometheus), /healthz and /status from the manager on this address: host:port, a port (127.0.0.1), or a unix socket path' }),
  stopDelay: def({ flag: 'stop-delay', env: 'HYPNODE_STOP_DELAY', kind: 'seconds', rule: number({ min: 0 }), default: () => 0,
    shown: '0', effect: 'reload', doc: 'on a graceful stop, seconds /healthz answers 503 while the workers still serve, so that a load balancer stops sending first' }),
  logFormat: def({ flag: 'log-format', env: 'HYPNODE_LOG_FORMAT', kind: 'string', value: 'text|json', rule: oneOf(['text', 'json']), default: (): 'text' | 'json' => 'text',
    shown: 'text', effect: 'reload', doc: 'text ("[g2 1234] line") or json (one object a line, for log shippers)' }),
  logBuffer: def({ flag: 'log-buffer', env: 'HYPNODE_LOG_BUFFER', kind: 'int', rule: number({ whole: true, min: 65_536 }), default: () => 8 * 1024 * 1024,
    shown: '8388608 (8 MiB)', effect: 'reload',
    doc: 'bytes of output each worker holds, in order, while the log\'s destination is slower than the app (a paused reader, journald or a log shipper catching up); lines beyond it are dropped and counted (see Logs)' }),
  logStallTimeout: def({ flag: 'log-stall-timeout', env: 'HYPNODE_LOG_STALL_TIMEOUT', kind: 'seconds', rule: seconds, default: () => 10,
    shown: '10', effect: 'reload',
    doc: 'seconds the log\'s destination may take nothing at all before it counts as stalled: each worker then drops what it holds, and what follows, until it takes lines again (see Logs)' }),
};

type Table = typeof TABLE;
export type SettingKey = keyof Table;
export type Settings = { [K in SettingKey]: RuleType<Table[K]['rule']> };

export interface SettingDoc extends Def<unknown> {
  key: SettingKey;
}

export const SETTINGS: readonly SettingDoc[] = Object.entries(TABLE).map(([key, d]) => ({ ...(d as Def<unknown>), key: key as SettingKey }));

/**
 * The value given under a setting's name or under its former one: `read` looks one name up,
 * `say` writes it as the user did (--flag, VARIABLE, "key"). Both at once is an error naming both
 * (after `where`, when the name alone does not say where it was given).
 */
export function givenOnce<V>(
  now: string, former: string | undefined, read: (name: string) => V | undefined, say: (name: string) => string, where = '',
): { value: V; name: string } | undefined {
  const current = read(now);
  const old = former === undefined ? undefined : read(former);
  if (current !== undefined && old !== undefined) {
    throw new UsageError(`${where}both ${say(now)} and ${say(former!)} (its former name) are given: give only ${say(now)}`);
  }
  if (current !== undefined) return { value: current, name: now };
  return old === undefined ? undefined : { value: old, name: former! };
}

export function defaultSettings(): Settings {
  return Object.fromEntries(SETTINGS.map((s) => [s.key, s.default()])) as Settings;
}

/** A whole settings object: every key known, every value valid (what the layers make together, defaults included). */
export const settingsSchema = {
  parse(value: Record<string, unknown>): Settings {
    for (const key of Object.keys(value)) {
      if (!(key in TABLE)) throw new UsageError(`unknown setting "${key}"`);
    }
    for (const s of SETTINGS) {
      const problem = s.rule.problem(value[s.key]);
      if (problem) throw new UsageError(describeProblem(`setting "${s.key}"`, problem, value[s.key], s.kind !== 'map' && s.kind !== 'list'));
    }
    return value as Settings;
  },
};
