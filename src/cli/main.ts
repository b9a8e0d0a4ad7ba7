#!/bin/sh
//bin/true; exec node -- "$0" "$@"
// (A shell line, a comment to node: node itself checks every --env-file on its command line, even
// those after the script's name, and exits when the file is missing; after `--` it leaves them to
// hypnode, whose --env-file they are.)
import { OperationError, UsageError } from '../errors.js';
import { describeNativeAddon, NativeAddonError } from '../native.js';
import { parseCli, type CliArgs } from './args.js';
import { reload, reopenLogs, status, stop, upgrade } from './commands/control.js';
import { list } from './commands/list.js';
import { start } from './commands/start.js';
import { top } from './commands/top.js';
import { unit } from './commands/unit.js';
import { commandHelp, globalHelp, helpWidth } from './help.js';
import { HYPNODE_VERSION } from '../version.js';

const COMMANDS: Record<CliArgs['command'], (args: CliArgs) => Promise<number>> = {
  start,
  reload,
  upgrade,
  status,
  top,
  ls: list,
  stop,
  'reopen-logs': reopenLogs,
  unit,
  help: async (args) => {
    process.stdout.write(`${args.helpFor ? commandHelp(args.helpFor, helpWidth()) : globalHelp(helpWidth())}\n`);
    return 0;
  },
  version: async () => {
    process.stdout.write(`hypnode ${HYPNODE_VERSION} (node ${process.version}, ${process.platform}-${process.arch})\n${describeNativeAddon()}\n`);
    return 0;
  },
};

async function main(): Promise<number> {
  try {
    const args = parseCli(process.argv.slice(2));
    return await COMMANDS[args.command](args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`hypnode: ${err.message}\n`);
      return 2;
    }
    if (err instanceof OperationError || err instanceof NativeAddonError) {
      process.stderr.write(`hypnode: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

// Exit explicitly: the manager's last timers must not keep it alive once it has stopped.
process.exit(await main());
