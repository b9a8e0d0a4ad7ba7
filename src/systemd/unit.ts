import { basename, dirname } from 'node:path';
import type { Settings } from '../config/settings.js';

// `hypnode unit APP`: a systemd service (and, with --socket, a socket unit) that uses everything
// hypnode offers systemd. Each line carries the reason for it, so that the unit explains itself.

export interface UnitOptions {
  app: string;
  settings: Settings;
  /** The flags to repeat on the ExecStart line (as given to `hypnode unit`, less the identity ones). */
  startArgs: string[];
  node: string;
  cli: string;
  configPath: string | null;
  /** ListenStream= values for a socket unit; empty for none. */
  sockets: string[];
}

export function unitName(app: string, name: string | null): string {
  const stem = (name ?? basename(app).replace(/\.[cm]?[jt]s$/, '')).replace(/[^A-Za-z0-9_.-]/g, '-');
  return `hypnode-${stem}`;
}

const quote = (arg: string) => (/^[A-Za-z0-9_./=:@%+,-]+$/.test(arg) ? arg : `"${arg.replace(/(["\\$])/g, '\\$1').replace(/%/g, '%%')}"`);

export function serviceUnit(o: UnitOptions): string {
  const name = unitName(o.app, o.settings.name);
  const hypnode = `${quote(o.node)} ${quote(o.cli)}`;
  const graceful = Math.ceil(o.settings.gracefulTimeout);
  const upgrade = Math.ceil(o.settings.upgradeTimeout);
  return `# ${name}.service, made by \`hypnode unit\`
[Unit]
Description=hypnode: ${o.app}
After=network.target
${o.sockets.length ? `Requires=${name}.socket\nAfter=${name}.socket\n` : ''}
[Service]
# The manager says READY=1 only once the first generation serves, so \`systemctl start\` returns then.
Type=notify
NotifyAccess=main
ExecStart=${hypnode} start ${[o.app, ...o.startArgs, ...identityArgs(o)].map(quote).join(' ')}
# Blocks until the new code serves and the old has drained; exits non-zero (and \`systemctl reload\`
# fails, the old code still serving) when the new code cannot start. The manager's PID never changes.
ExecReload=${hypnode} reload ${[o.app, ...identityArgs(o)].map(quote).join(' ')}
WorkingDirectory=${quote(dirname(o.app))}
# The directory by its name, symlinks kept (systemd passes none): every reload resolves it afresh,
# so a deploy that flips a \`current\` symlink reloads into the new release.
Environment=${quote(`PWD=${dirname(o.app)}`)}
# SIGTERM to the manager only: it drains the workers; whatever is left after TimeoutStopSec is killed.
KillMode=mixed
# A reload may take the upgrade timeout to start new workers plus the graceful timeout to drain.
TimeoutStartSec=${upgrade + graceful + 30}
TimeoutStopSec=${graceful + 15}
# The manager pings the watchdog from its own event loop; a hung manager is restarted.
WatchdogSec=30
# A crashed manager is restarted; its listening sockets wait in the fd store meanwhile, so clients
# queue in the kernel instead of being refused.
Restart=on-failure
RestartSec=1
FileDescriptorStoreMax=64

[Install]
WantedBy=multi-user.target
`;
}

export function socketUnit(o: UnitOptions): string {
  const name = unitName(o.app, o.settings.name);
  return `# ${name}.socket, made by \`hypnode unit --socket\`
[Unit]
Description=hypnode sockets: ${o.app}

[Socket]
${o.sockets.map((s) => `ListenStream=${s}`).join('\n')}
# The app's listen(port) in each worker lands on the matching socket; it never closes on restart.
Service=${name}.service
Backlog=1024

[Install]
WantedBy=sockets.target
`;
}

/** What `hypnode reload` needs to find the instance that ExecStart started: on both lines. */
function identityArgs(o: UnitOptions): string[] {
  return [
    ...(o.settings.name ? ['--name', o.settings.name] : []),
    ...(o.settings.runtimeDir ? ['--runtime-dir', o.settings.runtimeDir] : []),
    ...(o.configPath ? ['--config', o.configPath] : []),
  ];
}
