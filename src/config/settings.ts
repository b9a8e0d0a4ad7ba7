import { availableParallelism } from 'node:os';
import { z } from 'zod';

// One table holds every setting: its config-file key, CLI flag, environment variable, type,
// default and the words the README and `hypnode --help` show. Names follow hypnotoad's where the
// meaning is the same, PM2's for what hypnotoad lacks.

const seconds = z.number().finite().positive();

export const settingsSchema = z
  .object({
    workers: z.number().int().min(1).max(512),
    gracefulTimeout: seconds,
    heartbeatInterval: seconds,
    heartbeatTimeout: seconds,
    upgradeTimeout: seconds,
    accepts: z.number().int().min(0),
    pidFile: z.string().min(1).nullable(),
    waitReady: z.boolean(),
    maxRss: z.number().int().min(0),
    nodeArgs: z.array(z.string()),
    args: z.array(z.string()),
    env: z.record(z.string(), z.string()),
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (at most 64)').nullable(),
    runtimeDir: z.string().min(1).nullable(),
    logFormat: z.enum(['text', 'json']),
  })
  .strict();

export type Settings = z.infer<typeof settingsSchema>;
export type SettingKey = keyof Settings;

export interface SettingDoc {
  key: SettingKey;
  flag: string;
  env: string;
  kind: 'int' | 'seconds' | 'string' | 'bool' | 'list' | 'map';
  doc: string;
  default: () => Settings[SettingKey];
}

export const SETTINGS: readonly SettingDoc[] = [
  { key: 'workers', flag: 'workers', env: 'HYPNODE_WORKERS', kind: 'int', default: () => availableParallelism(),
    doc: 'worker processes per generation (default: the number of CPUs)' },
  { key: 'gracefulTimeout', flag: 'graceful-timeout', env: 'HYPNODE_GRACEFUL_TIMEOUT', kind: 'seconds', default: () => 30,
    doc: 'seconds an old worker may take to finish its in-flight requests before it is killed' },
  { key: 'heartbeatInterval', flag: 'heartbeat-interval', env: 'HYPNODE_HEARTBEAT_INTERVAL', kind: 'seconds', default: () => 1,
    doc: 'seconds between heartbeats from each worker' },
  { key: 'heartbeatTimeout', flag: 'heartbeat-timeout', env: 'HYPNODE_HEARTBEAT_TIMEOUT', kind: 'seconds', default: () => 10,
    doc: 'seconds without a heartbeat after which a worker counts as hung and is killed and replaced' },
  { key: 'upgradeTimeout', flag: 'upgrade-timeout', env: 'HYPNODE_UPGRADE_TIMEOUT', kind: 'seconds', default: () => 60,
    doc: 'seconds a new generation may take to become ready before the reload fails' },
  { key: 'accepts', flag: 'accepts', env: 'HYPNODE_ACCEPTS', kind: 'int', default: () => 0,
    doc: 'replace a worker gracefully after it accepted this many connections (0: never)' },
  { key: 'pidFile', flag: 'pid-file', env: 'HYPNODE_PID_FILE', kind: 'string', default: () => null,
    doc: "write the manager's PID here (atomically; removed on exit)" },
  { key: 'waitReady', flag: 'wait-ready', env: 'HYPNODE_WAIT_READY', kind: 'bool', default: () => false,
    doc: "a worker is ready only when the app says so (process.send('ready') or ready() from 'hypnode')" },
  { key: 'maxRss', flag: 'max-rss', env: 'HYPNODE_MAX_RSS', kind: 'int', default: () => 0,
    doc: 'replace a worker gracefully once its resident memory exceeds this many MiB (0: never)' },
  { key: 'nodeArgs', flag: 'node-args', env: 'HYPNODE_NODE_ARGS', kind: 'list', default: () => [],
    doc: 'extra node options for the workers, space-separated (e.g. "--max-old-space-size=512")' },
  { key: 'args', flag: 'args', env: 'HYPNODE_ARGS', kind: 'list', default: () => [],
    doc: 'arguments passed to the app (also: everything after --)' },
  { key: 'env', flag: 'env', env: 'HYPNODE_ENV', kind: 'map', default: () => ({}),
    doc: 'extra environment for the workers, KEY=VALUE (flag may repeat)' },
  { key: 'name', flag: 'name', env: 'HYPNODE_NAME', kind: 'string', default: () => null,
    doc: 'instance name, to run the same app file more than once' },
  { key: 'runtimeDir', flag: 'runtime-dir', env: 'HYPNODE_RUNTIME_DIR', kind: 'string', default: () => null,
    doc: 'where the control socket lives (default: /run/hypnode for root, else $XDG_RUNTIME_DIR/hypnode)' },
  { key: 'logFormat', flag: 'log-format', env: 'HYPNODE_LOG_FORMAT', kind: 'string', default: () => 'text',
    doc: 'text ("[g2 1234] line") or json (one object a line, for log shippers)' },
];

export function defaultSettings(): Settings {
  return Object.fromEntries(SETTINGS.map((s) => [s.key, s.default()])) as Settings;
}

/** Settings that pick an instance: they cannot change on reload. */
export const IDENTITY_KEYS: readonly SettingKey[] = ['name', 'runtimeDir', 'pidFile'];
