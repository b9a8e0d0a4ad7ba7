import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { UsageError } from '../errors.js';

// `--env-file PATH`: the dotenv format node's own --env-file reads, parsed by node itself
// (util.parseEnv), read again on every reload, so that changing a variable is a file edit and a
// reload. Node's parser says nothing of a line it cannot read (it even joins it to the next
// key), so each file is checked line by line first: a bad line fails the reload, naming it by
// its number and never quoting it: a line that is not KEY=VALUE may be a secret (a pasted key),
// and the error is logged and shown in `hypnode status`.

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** The variables of every file, later files winning. */
export function readEnvFiles(paths: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const path of paths) Object.assign(vars, readEnvFile(path));
  return vars;
}

function readEnvFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`env file ${path} cannot be read: ${(err as Error).message}`);
  }
  checkLines(text, path);
  return parseEnv(text) as Record<string, string>;
}

function checkLines(text: string, path: string): void {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `env file ${path}, line ${i + 1}`;
    const m = /^(?:export\s+)?([^=]*?)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new UsageError(`${where}: expected KEY=VALUE, found no "=" (the line is not shown: it may be a secret)`);
    if (!NAME.test(m[1]!)) throw new UsageError(`${where}: what stands before "=" is not a variable name (letters, digits, _ . -, not starting with a digit; the line is not shown: it may be a secret)`);
    const quote = m[2]![0];
    if (quote !== '"' && quote !== "'" && quote !== '`') continue;
    // A quoted value may span lines: it ends at the next same quote.
    let rest = m[2]!.slice(1);
    let end = i;
    while (!rest.includes(quote)) {
      if (++end >= lines.length) throw new UsageError(`${where}: the ${quote} quote opened here is never closed`);
      rest = lines[end]!;
    }
    i = end;
  }
}
