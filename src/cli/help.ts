import { SETTINGS } from '../config/settings.js';
import { COMMANDS, flagsOf, OWN_OPTIONS, placeholder, type CommandName } from './args.js';

// `hypnode help [COMMAND]` and `hypnode COMMAND --help`, wrapped to the terminal (80 columns
// when the output is no terminal), as git and cargo show theirs.

/** The width help is wrapped to. */
export function helpWidth(out: NodeJS.WriteStream = process.stdout): number {
  return out.isTTY && out.columns ? Math.max(40, out.columns) : 80;
}

/** `text` in lines of at most `width`, the first after `lead`, the rest indented by `indent`. */
function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

/** Two columns: the term, and its description wrapped beside it (or below, for a long term). */
function rows(entries: [string, string][], width: number): string {
  const column = Math.min(30, Math.floor(width * 0.4), Math.max(...entries.map(([term]) => term.length)) + 4);
  const out: string[] = [];
  for (const [term, text] of entries) {
    const lines = wrap(text, width, column);
    const pad = ' '.repeat(column);
    if (2 + term.length + 2 > column) out.push(`  ${term}`);
    else out.push(`  ${term.padEnd(column - 2)}${lines.shift() ?? ''}`);
    for (const l of lines) out.push(`${pad}${l}`);
  }
  return out.join('\n');
}

export function globalHelp(width: number): string {
  const commands = (Object.keys(COMMANDS) as (keyof typeof COMMANDS)[]).map((c): [string, string] => [c, COMMANDS[c].summary]);
  return [
    ...wrap('hypnode: a zero-downtime application server for Node.js that systemd understands', width, 0),
    '',
    ...wrap('Usage: hypnode COMMAND [APP] [options] [-- app arguments]', width, 0),
    '',
    'Commands:',
    rows(commands, width),
    '',
    ...wrap('`hypnode help COMMAND` (or `hypnode COMMAND --help`) shows its options. APP is the app\'s main file (app.js, build/index.js) or a script of node_modules/.bin.', width, 0),
    '',
    'Signals to the manager:',
    rows([
      ['HUP', 'reload'],
      ['USR2', 'upgrade (as `hypnode upgrade`)'],
      ['TERM, INT, QUIT', 'stop gracefully (a second TERM or INT: fast)'],
      ['TTIN, TTOU', 'add, remove a worker'],
      ['USR1', 'reopen --log-file'],
    ], width),
  ].join('\n');
}

export function commandHelp(command: CommandName, width: number): string {
  const spec = COMMANDS[command];
  const allowed = new Set(flagsOf(command));
  const entries: [string, string][] = [];
  for (const [flag, o] of Object.entries(OWN_OPTIONS)) {
    if (!allowed.has(flag) || flag === 'version') continue;
    entries.push([`${o.short ? `-${o.short}, ` : ''}--${flag}${o.value ? ` ${o.value}` : ''}`, o.doc]);
  }
  const settings = SETTINGS.filter((s) => allowed.has(s.flag)).map((s): [string, string] => {
    const value = placeholder(s.kind, s.value);
    const applies = s.effect === 'reload' ? '' : '; a reload never changes it';
    const formerly = s.formerly ? `; formerly --${s.formerly.flag}, ${s.formerly.env}` : '';
    return [`--${s.flag}${value ? ` ${value}` : ''}`, `${s.doc} (default: ${s.shown}; ${s.env}${applies}${formerly})`];
  });
  const settingsHead = spec.settings === 'all'
    ? 'Settings (also in hypnode.config.json beside APP, or --config PATH, by their camelCase names; flags > environment > config file > defaults; a reload reads the config file again):'
    : 'To find the instance (as given to `hypnode start`):';
  return [
    ...wrap(`Usage: hypnode ${command} ${spec.usage}`, width, 0),
    '',
    ...wrap(`${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`, width, 0),
    ...(entries.length ? ['', 'Options:', rows(entries, width)] : []),
    ...(settings.length ? ['', ...wrap(settingsHead, width, 0), rows(settings, width)] : []),
  ].join('\n');
}
