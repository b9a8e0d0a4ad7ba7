#!/usr/bin/env node
import { OperationError, UsageError } from '../errors.js';
import { describeNativeAddon, NativeAddonError } from '../native.js';
import { helpText, parseCli, type CliArgs } from './args.js';
import { reload, reopenLogs, status, stop, upgrade } from './commands/control.js';
import { start } from './commands/start.js';
import { unit } from './commands/unit.js';
import { HYPNODE_VERSION } from '../version.js';

const COMMANDS: Record<CliArgs['command'], (args: CliArgs) => Promise<number>> = {
  start,
  reload,
  upgrade,
  status,
  stop,
  'reopen-logs': reopenLogs,
  unit,
  help: async () => {
    process.stdout.write(`${helpText()}\n`);
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
