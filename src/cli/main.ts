#!/bin/sh
//bin/true; exec node -- "$0" "$@"
// (A shell line, a comment to node: node itself checks every --env-file on its command line, even
// those after the script's name, and exits when the file is missing; after `--` it leaves them to
// hypnode, whose --env-file they are.)
import { OperationError, UsageError } from '../errors.js';
import { describeNativeAddon, NativeAddonError } from '../native.js';
import type { CliArgs } from './args.js';
import { exitStatus } from './exit-status.js';
import { baselineTierOnly, youngGenerationHeld } from './manager-tiers.js';
import { HYPNODE_VERSION } from '../version.js';

// Each command's module is loaded when it runs: the manager (`start`) stays a small long-lived
// process without the client commands, `top` or the unit generator in its memory.
const COMMANDS: Record<CliArgs['command'], (args: CliArgs) => Promise<number>> = {
  start: async (args) => (await import('./commands/start.js')).start(args),
  reload: async (args) => (await import('./commands/control.js')).reload(args),
  rollback: async (args) => (await import('./commands/control.js')).rollback(args),
  upgrade: async (args) => (await import('./commands/control.js')).upgrade(args),
  status: async (args) => (await import('./commands/control.js')).status(args),
  top: async (args) => (await import('./commands/top.js')).top(args),
  ls: async (args) => (await import('./commands/list.js')).list(args),
  stop: async (args) => (await import('./commands/control.js')).stop(args),
  'reopen-logs': async (args) => (await import('./commands/control.js')).reopenLogs(args),
  unit: async (args) => (await import('./commands/unit.js')).unit(args),
  help: async (args) => {
    const { commandHelp, globalHelp, helpWidth } = await import('./help.js');
    process.stdout.write(`${args.helpFor ? commandHelp(args.helpFor, helpWidth()) : globalHelp(helpWidth())}\n`);
    return 0;
  },
  version: async () => {
    process.stdout.write(`hypnode ${HYPNODE_VERSION} (node ${process.version}, ${process.platform}-${process.arch})\n${describeNativeAddon()}\n`);
    return 0;
  },
};

async function main(): Promise<number> {
  // Before the settings and the command's modules load (see manager-tiers.ts).
  baselineTierOnly();
  youngGenerationHeld();
  let args: CliArgs | null = null;
  try {
    const { parseCli } = await import('./args.js');
    args = parseCli(process.argv.slice(2));
    return await COMMANDS[args.command](args);
  } catch (err) {
    if (!(err instanceof UsageError || err instanceof OperationError || err instanceof NativeAddonError)) throw err;
    process.stderr.write(`hypnode: ${err.message}\n`);
    // A program reads the code, and a failed reload's output and what serves, off stdout.
    if (args?.json) {
      const { jsonText } = await import('./format.js');
      process.stdout.write(jsonText({ ok: false, code: err.code, error: err.message, ...(err instanceof OperationError ? err.details : {}) }));
    }
    return exitStatus(err.code, args?.command ?? null);
  }
}

// Exit explicitly: the manager's last timers must not keep it alive once it has stopped.
process.exit(await main());
