import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SETTINGS } from '../../config/settings.js';
import { serviceUnit, socketUnit, unitName, type UnitOptions } from '../../systemd/unit.js';
import type { CliArgs } from '../args.js';
import { locate } from '../instance.js';

// `hypnode unit APP`: prints (or, with --out DIR, writes) the systemd units for APP.

const CLI = fileURLToPath(new URL('../main.js', import.meta.url));

export async function unit(args: CliArgs): Promise<number> {
  const { app, settings } = await locate(args);
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
    configPath: args.configPath ? resolve(args.configPath) : null,
    sockets: args.sockets,
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
