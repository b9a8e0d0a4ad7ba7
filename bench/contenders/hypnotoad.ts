import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand } from '../commands.js';
import { endPid } from '../owned.js';
import { PERL_APP } from '../paths.js';
import { readPidFile } from '../proc.js';
import type { Contender } from './types.js';

// hypnotoad (Mojolicious) with a Mojolicious::Lite app: the peer with the reload to beat. It
// daemonizes, and a reload (`hypnotoad app.pl` again) starts a new manager that takes over the
// PID file, so the manager is always looked up there.
const HYPNOTOAD = '/usr/bin/hypnotoad';

export const hypnotoad: Contender = {
  name: 'hypnotoad',
  description: 'hypnotoad (Perl, Mojolicious::Lite)',
  missing: () => (existsSync(HYPNOTOAD) ? null : `${HYPNOTOAD} not installed (Debian: libmojolicious-perl)`),
  async start(setup) {
    const pidFile = join(setup.dir, 'hypnotoad.pid');
    const env = { ...setup.env, BENCH_PID_FILE: pidFile };
    const command = () => runCommand(HYPNOTOAD, [PERL_APP], env, setup.commandCapMs);
    const started = await command();
    if (started.code !== 0) throw new Error(`hypnotoad failed (exit ${started.code}): ${started.output}`);
    return {
      managerPid: () => readPidFile(pidFile),
      reload: command,
      // TERM, not `hypnotoad -s` (QUIT): teardown need not wait out the 120 s graceful timeout.
      stop: () => endPid(readPidFile(pidFile) ?? undefined, 'SIGTERM', 5000),
    };
  },
};
