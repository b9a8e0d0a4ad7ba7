import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, extname, resolve } from 'node:path';
import { didYouMean } from '../did-you-mean.js';
import { UsageError } from '../errors.js';
import { importDefault } from './import-isolated.js';
import { describeProblem } from './rules.js';
import { SETTINGS, defaultSettings, givenOnce, settingsSchema, type SettingDoc, type SettingKey, type Settings } from './settings.js';

// Precedence: flags > environment > config file > defaults. Each layer is validated on its own
// so that an error names its source (the flag, the variable, or the file and key).

const CONFIG_NAMES = ['hypnode.config.json', 'hypnode.config.mjs', 'hypnode.config.js'];

export interface SettingSources {
  /** Raw flag values by setting key, as typed (strings; booleans for switches; arrays for repeats). */
  flags: Partial<Record<SettingKey, string | boolean | string[]>>;
  /** App arguments given after `--`, verbatim (no splitting on spaces). */
  appArgs: string[] | null;
  env: NodeJS.ProcessEnv;
  /** The app's absolute path as given (symlinks kept: the config file beside it follows a deploy's flip). */
  appPath: string;
  /** The directory relative paths in flags and environment are taken from. */
  cwd: string;
  configPath: string | null;
}

export interface Resolved {
  settings: Settings;
  configFile: string | null;
}

export async function resolveSettings(sources: SettingSources): Promise<Resolved> {
  const configFile = findConfigFile(sources);
  const fromFile = configFile ? await readConfigFile(configFile).catch(asConfigError) : {};
  return { settings: layered(sources, fromFile, configFile), configFile };
}

/**
 * For commands that only talk to a running manager (status, stop): a config file that does not
 * parse must not keep them from it. Its error is returned, to be shown as a warning, and the
 * settings are those of flags and environment alone.
 */
export async function resolveLeniently(sources: SettingSources): Promise<Resolved & { configError: string | null }> {
  try {
    return { ...(await resolveSettings(sources)), configError: null };
  } catch (err) {
    if (!(err instanceof UsageError) || err.code !== 'CONFIG_INVALID') throw err;
    return { settings: layered(sources, {}, null), configFile: null, configError: err.message };
  }
}

function layered(sources: SettingSources, fromFile: Partial<Settings>, configFile: string | null): Settings {
  const settings = { ...defaultSettings(), ...fromFile } as Record<SettingKey, unknown>;
  for (const s of SETTINGS) {
    const raw = fromEnvironment(s, sources.env);
    if (raw) settings[s.key] = parseLayer(s, raw.value, `environment variable ${raw.name}`, sources.cwd);
  }
  for (const s of SETTINGS) {
    const raw = sources.flags[s.key];
    if (raw !== undefined) settings[s.key] = parseLayer(s, raw, `flag --${s.flag}`, sources.cwd);
  }
  if (sources.appArgs) settings.args = sources.appArgs;
  return checkWhole(settings, configFile);
}

/** A setting's variable, or its former one (an empty variable is one not set). */
export function fromEnvironment(s: SettingDoc, env: NodeJS.ProcessEnv): { value: string; name: string } | undefined {
  return givenOnce(s.env, s.formerly?.env, (name) => env[name] || undefined, (name) => name);
}

function findConfigFile(sources: SettingSources): string | null {
  const explicit = sources.configPath ?? sources.env.HYPNODE_CONFIG ?? null;
  if (explicit) {
    const path = resolve(sources.cwd, explicit);
    if (!existsSync(path)) throw new UsageError(`config file ${path} does not exist (from ${sources.configPath ? '--config' : 'HYPNODE_CONFIG'})`, 'CONFIG_INVALID');
    return path;
  }
  const dir = dirname(sources.appPath);
  for (const name of CONFIG_NAMES) {
    const path = resolve(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/** Bad input found in the config file: its own code, which resolveLeniently goes on without. */
function asConfigError(err: unknown): never {
  throw err instanceof UsageError ? new UsageError(err.message, 'CONFIG_INVALID') : err;
}

async function readConfigFile(path: string): Promise<Partial<Settings>> {
  let data: unknown;
  if (extname(path) === '.json') {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new UsageError(`config file ${path} cannot be read: ${(err as Error).message}`);
    }
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`config file ${path} is not valid JSON: ${jsonSyntaxError(text, err as Error)}`);
    }
  } else {
    try {
      data = await importDefault(path);
    } catch (err) {
      throw new UsageError(`config file ${path} failed to load: ${(err as Error).message}`);
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UsageError(`config file ${path} must hold an object of settings (e.g. {"workers": 4})`);
  }
  const known = new Set<string>(SETTINGS.map((s) => s.key));
  const former = new Set<string>(SETTINGS.flatMap((s) => (s.formerly ? [s.formerly.key] : [])));
  for (const key of Object.keys(data)) {
    if (!known.has(key) && !former.has(key)) {
      throw new UsageError(`config file ${path}: unknown key "${key}"${didYouMean(key, [...known])}; known keys: ${[...known].join(', ')}`);
    }
  }
  const values = data as Record<string, unknown>;
  const out: Partial<Record<SettingKey, unknown>> = {};
  for (const s of SETTINGS) {
    const given = givenOnce(s.key, s.formerly?.key, (key) => (Object.hasOwn(values, key) ? { v: values[key] } : undefined), (key) => `"${key}"`, `config file ${path}: `);
    if (!given) continue;
    // A list or a map may hold secrets (the workers' env, the app's arguments): its value is not quoted.
    const valid = validateOne(s.key, given.value.v, `config file ${path}: key "${given.name}"`, s.kind !== 'map' && s.kind !== 'list');
    // Paths in the file are the file's own: relative to where it is.
    out[s.key] = s.kind === 'paths' ? (valid as string[]).map((p) => resolve(dirname(path), p)) : valid;
  }
  return out as Partial<Settings>;
}

/**
 * Why JSON.parse failed, and where (line and column), without the text around the error that
 * V8 quotes for an unexpected token: a config file may hold secrets (the workers' env).
 */
function jsonSyntaxError(text: string, err: Error): string {
  const reason = err.message.replace(/ in JSON at position \d+.*$/s, '').replace(/,? (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '').replace(/^(Unexpected token) '.*'$/s, '$1');
  const at = /at position (\d+)/.exec(err.message);
  const before = text.slice(0, at ? Number(at[1]) : firstFailingPrefix(text) - 1).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}: ${reason}`;
}

/** The shortest prefix of `text` that fails otherwise than by ending early: its last character is the error's. */
function firstFailingPrefix(text: string): number {
  const failsThere = (n: number) => {
    try {
      JSON.parse(text.slice(0, n));
      return false;
    } catch (err) {
      const at = /at position (\d+)/.exec((err as Error).message);
      return at ? Number(at[1]) < n : !/end of JSON input/.test((err as Error).message);
    }
  };
  let lo = 1;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsThere(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function parseLayer(s: SettingDoc, raw: string | boolean | string[], where: string, cwd: string): unknown {
  return validateOne(s.key, parseRaw(s, raw, where, cwd), where);
}

function parseRaw(s: SettingDoc, raw: string | boolean | string[], where: string, cwd: string): unknown {
  if (s.kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    const v = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    throw new UsageError(`${where}: expected true or false, got "${raw}"`);
  }
  const parts = Array.isArray(raw) ? raw : [String(raw)];
  const last = parts[parts.length - 1] ?? '';
  switch (s.kind) {
    case 'int':
      if (!/^\d+$/.test(last.trim())) throw new UsageError(`${where}: expected a whole number, got "${last}"`);
      return Number(last);
    case 'number':
      if (!/^\d+(\.\d+)?$/.test(last.trim())) throw new UsageError(`${where}: expected a number, got "${last}"`);
      return Number(last);
    case 'seconds':
      return parseSeconds(last, where);
    case 'string':
      return last;
    case 'list':
      return parts.flatMap((p) => p.split(/\s+/).filter(Boolean));
    case 'paths':
      // A repeated flag, or PATH-like in the environment (a path may hold spaces, not ':').
      return parts.flatMap((p) => (Array.isArray(raw) ? [p] : p.split(delimiter))).filter(Boolean).map((p) => resolve(cwd, p));
    case 'map':
      return Object.fromEntries(
        parts.flatMap((p) => p.split(/\s+/).filter(Boolean)).map((pair) => {
          const eq = pair.indexOf('=');
          if (eq <= 0) throw new UsageError(`${where}: expected KEY=VALUE, got "${pair}"`);
          return [pair.slice(0, eq), pair.slice(eq + 1)];
        }),
      );
  }
}

/** "30", "1.5", "500ms", "2s" or "1m", in seconds. */
export function parseSeconds(text: string, where: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (!m) throw new UsageError(`${where}: expected seconds such as 30, 1.5, 500ms or 2m, got "${text}"`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'm' ? n * 60 : n;
}

function validateOne(key: SettingKey, value: unknown, where: string, quote = true): unknown {
  const problem = SETTINGS.find((s) => s.key === key)!.rule.problem(value);
  if (problem) throw new UsageError(describeProblem(where, problem, value, quote));
  return value;
}

function checkWhole(settings: Record<SettingKey, unknown>, configFile: string | null): Settings {
  const s = settingsSchema.parse(settings);
  if (s.heartbeatTimeout <= s.heartbeatInterval) {
    throw new UsageError(
      `heartbeatTimeout (${s.heartbeatTimeout}s) must be longer than heartbeatInterval (${s.heartbeatInterval}s)` +
        (configFile ? ` (config file ${configFile}, flags or environment)` : ''),
    );
  }
  return s;
}
