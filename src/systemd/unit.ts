import { basename, dirname } from 'node:path';
import type { Settings } from '../config/settings.js';

// `hypnode unit APP`: a systemd service (and, with --socket, a socket unit) that uses everything
// hypnode offers systemd, runs as an unprivileged user, and is sandboxed as far as Node and the
// app allow (`systemd-analyze security` rates it OK). Each line carries the reason for it, and
// each directive left out says why, so that the unit explains itself.

export interface UnitOptions {
  app: string;
  /** Where `hypnode unit` ran (or --cwd): the manager and its workers run there, as `hypnode start` would have. */
  cwd: string;
  settings: Settings;
  /** The flags to repeat on the ExecStart line (as given to `hypnode unit`, less the identity ones). */
  startArgs: string[];
  /** The app's arguments given after `--`. */
  appArgs: string[] | null;
  /** hypnode's own environment variables (HYPNODE_WORKERS=...) as `hypnode unit` saw them: `start` would have read them. */
  env: Record<string, string>;
  node: string;
  cli: string;
  configPath: string | null;
  /** ListenStream= values for a socket unit; empty for none. */
  sockets: string[];
  user: string;
  group: string | null;
  /** Directories the app writes to (ReadWritePaths=), absolute. */
  writable: string[];
  /** The app binds a port below 1024 itself (no socket unit): it keeps CAP_NET_BIND_SERVICE. */
  privilegedPorts: boolean;
}

/** File names that say nothing of the app (frameworks' build entries): the unit is named by its directory. */
const GENERIC_FILES = new Set(['index', 'server', 'entry', 'app', 'main']);
/** Directories that say nothing of the app either: build outputs, release links, package scripts. */
const GENERIC_DIRS = new Set(['server', 'dist', 'build', 'out', 'output', '.output', 'src', 'lib', 'bin', '.bin', 'current', 'releases', 'node_modules']);

/**
 * `hypnode-NAME`: --name if given, else the app file's name, or (for a generic file name, or a
 * script in node_modules/.bin) the nearest directory that names the app: /srv/shop/app.js and
 * /srv/blog/app.js get units of their own, as do Nuxt's .output/server/index.mjs and Astro's
 * dist/server/entry.mjs.
 */
export function unitName(app: string, name: string | null): string {
  return `hypnode-${(name ?? appStem(app)).replace(/[^A-Za-z0-9_.-]/g, '-')}`;
}

function appStem(app: string): string {
  const dirs = dirname(app).split('/').filter(Boolean);
  const file = basename(app).replace(/\.[cm]?[jt]sx?$/, '');
  const modules = dirs.indexOf('node_modules');
  // A package's script: the project that installed it, not the package.
  const candidates = modules >= 0 ? dirs.slice(0, modules) : GENERIC_FILES.has(file) ? dirs : [];
  // A release directory (20261205120000, 42, v1.2.3) is one deploy, not the app.
  const named = candidates.reverse().find((d) => !GENERIC_DIRS.has(d) && !/^v?\d[\d._-]*$/.test(d));
  return named ?? file;
}

/** A value as systemd reads it back: quoted when it holds more than a word; % (a specifier) doubled. */
const quote = (value: string) => {
  const escaped = value.replace(/%/g, '%%');
  return /^[A-Za-z0-9_./=:@+,-]+$/.test(value) ? escaped : `"${escaped.replace(/(["\\])/g, '\\$1')}"`;
};

/** An argument of a command line (ExecStart=), where $ is systemd's too. */
export const execArg = (arg: string) => quote(arg.replace(/\$/g, '$$$$'));

/** Whether any of `paths` lies in (or is) one of `dirs`. */
const under = (paths: string[], dirs: string[]) => paths.some((p) => dirs.some((d) => p === d || p.startsWith(`${d}/`)));

export function serviceUnit(o: UnitOptions): string {
  const name = unitName(o.app, o.settings.name);
  // `--`: node leaves hypnode's --env-file alone (it checks every one on its command line otherwise).
  const hypnode = `${execArg(o.node)} -- ${execArg(o.cli)}`;
  const graceful = Math.ceil(o.settings.gracefulTimeout);
  const ready = Math.ceil(o.settings.readyTimeout);
  const probation = Math.ceil(o.settings.probation);
  // In the unit's RuntimeDirectory= unless one is set: %t (/run, or a user manager's
  // XDG_RUNTIME_DIR) is a specifier, so written as it is, never quoted.
  const pidFile = o.settings.pidFile ? execArg(o.settings.pidFile) : `%t/hypnode/${name}/manager.pid`;
  const read = [o.app, dirname(o.app), o.cwd, o.node, o.cli, ...(o.configPath ? [o.configPath] : []), ...o.settings.envFile];
  const writable = [...o.writable, ...(o.settings.pidFile ? [dirname(o.settings.pidFile)] : []), ...(o.settings.runtimeDir ? [o.settings.runtimeDir] : [])];
  return `# ${name}.service, made by \`hypnode unit\`
[Unit]
Description=hypnode: ${o.app}
After=network.target
${o.sockets.length ? `Requires=${name}.socket\nAfter=${name}.socket\n` : ''}
[Service]
# The manager says READY=1 only once the first generation serves, so \`systemctl start\` returns then.
Type=notify
# An upgrade's new manager says MAINPID= and READY=1 itself when the old one died before it could:
# systemd takes that only with NotifyAccess=all (the workers never see NOTIFY_SOCKET).
NotifyAccess=all
# The PID file names the new manager as soon as its workers stand by in an upgrade: if the old one
# dies from then on, systemd makes the new one the main process instead of stopping the unit.
PIDFile=${pidFile}
ExecStart=${hypnode} start ${[o.app, ...o.startArgs, ...identityArgs(o)].map(execArg).join(' ')}${o.settings.pidFile ? '' : ` --pid-file=${pidFile}`}${o.appArgs ? ` ${['--', ...o.appArgs].map(execArg).join(' ')}` : ''}
# Blocks until the new code serves and the old has drained; exits non-zero (and \`systemctl reload\`
# fails, the old code still serving) when the new code cannot start. The manager's PID never changes
# in a reload. \`hypnode upgrade APP\` replaces the manager itself (a new hypnode or Node): it tells
# systemd MAINPID= first, so nothing restarts; as ExecReload=, it reloads the app's code as well.
ExecReload=${hypnode} reload ${[o.app, ...identityArgs(o)].map(execArg).join(' ')}
# Where \`hypnode unit\` ran (or --cwd): relative paths in the app's arguments, node options and
# config resolve as they did for \`hypnode start\` there.
WorkingDirectory=${o.cwd.replace(/%/g, '%%')}
# The directory by its name, symlinks kept (systemd passes none): every reload resolves it afresh,
# so a deploy that flips a \`current\` symlink reloads into the new release.
Environment=${quote(`PWD=${o.cwd}`)}
${Object.entries(o.env).map(([k, v]) => `Environment=${quote(`${k}=${v}`)}\n`).join('')}# SIGTERM to the manager only: it drains the workers; whatever is left after TimeoutStopSec is killed.
KillMode=mixed
# A reload may take the ready timeout to start new workers, the probation, and the graceful timeout to drain;
# a stop, the stop delay (a load balancer's time to notice /healthz) and the graceful timeout.
TimeoutStartSec=${ready + probation + graceful + 30}
TimeoutStopSec=${graceful + Math.ceil(o.settings.stopDelay) + 15}
# The manager pings the watchdog from its own event loop; a hung manager is restarted.
WatchdogSec=30
# A crashed manager is restarted; its listening sockets wait in the fd store meanwhile, so clients
# queue in the kernel instead of being refused.
Restart=on-failure
RestartSec=1
FileDescriptorStoreMax=64
# A server holds a socket per connection: room for tens of thousands.
LimitNOFILE=65536

# Who it runs as: never root unless asked (\`hypnode unit --user NAME\`).
User=${o.user}
${o.group ? `Group=${o.group}\n` : ''}# The control socket's directory, the service user's own (/run/hypnode/${name}): \`hypnode status/reload/stop\`
# find it there, run by root or by ${o.user} from any shell.
RuntimeDirectory=hypnode/${name}
RuntimeDirectoryMode=0700
UMask=0027

# Sandboxing. The app may write only where it is told to (\`--writable PATH\`); the rest of the
# file system is read-only, /tmp is its own, and what a web app never needs is out of reach.
ProtectSystem=strict
${writable.length ? `ReadWritePaths=${writable.map(quote).join(' ')}\n` : ''}${protectHome(read)}
${privateTmp([...read, ...writable])}
PrivateDevices=yes
DevicePolicy=closed
${o.privilegedPorts ? '# PrivateUsers= is left out: a capability to bind ports below 1024 holds only in the host\'s user namespace.' : 'PrivateUsers=yes'}
PrivateMounts=yes
ProtectHostname=yes
ProtectClock=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
# ProcSubset=pid is left out: it hides /proc/cpuinfo, and os.cpus() then returns an empty list
# (apps size pools by it). Add it when the app does not read os.cpus().
${capabilities(o)}
NoNewPrivileges=yes
# AF_NETLINK: os.networkInterfaces() reads the interfaces through it.
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
# MemoryDenyWriteExecute= is left out: V8 compiles JavaScript to machine code at run time, and
# every Node version dies at start without writable-then-executable memory.
SystemCallArchitectures=native
# @pkey: Node 20's V8 asks for a memory protection key at start (and 22, 24 may, on CPUs that
# have them); the rest of what Node and hypnode call is in @system-service.
SystemCallFilter=@system-service @pkey
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
# PrivateNetwork= and IPAddressDeny= are left out: a network service listens and connects.
# Narrow it to your clients with IPAddressAllow= (a local reverse proxy: IPAddressDeny=any,
# IPAddressAllow=localhost).

[Install]
WantedBy=multi-user.target
`;
}

function protectHome(paths: string[]): string {
  if (under(paths, ['/home', '/root', '/run/user'])) {
    return '# The app, node or hypnode lives under a home directory: readable, never writable.\nProtectHome=read-only';
  }
  return 'ProtectHome=yes';
}

function privateTmp(paths: string[]): string {
  if (under(paths, ['/tmp', '/var/tmp'])) {
    return '# PrivateTmp= is left out: the app (or a path it uses) is under /tmp, which a private /tmp would hide.';
  }
  return 'PrivateTmp=yes';
}

function capabilities(o: UnitOptions): string {
  if (!o.privilegedPorts) {
    return '# No capability at all: a port below 1024 comes from a socket unit (`hypnode unit --socket 443`),\n# which systemd binds; or ask for CAP_NET_BIND_SERVICE with `--privileged-ports`.\nCapabilityBoundingSet=';
  }
  return '# The manager binds the app\'s ports itself, some below 1024 (--privileged-ports): that one capability.\nCapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=CAP_NET_BIND_SERVICE';
}

export function socketUnit(o: UnitOptions): string {
  const name = unitName(o.app, o.settings.name);
  return `# ${name}.socket, made by \`hypnode unit --socket\`
[Unit]
Description=hypnode sockets: ${o.app}

[Socket]
${o.sockets.map((s) => `ListenStream=${s}`).join('\n')}
# The app's listen(port) in each worker lands on the matching socket; it never closes on restart.
# systemd binds it, as root: a port below 1024 needs no capability in the service.
Service=${name}.service
Backlog=1024

[Install]
WantedBy=sockets.target
`;
}

/** What `hypnode reload` needs to find the instance that ExecStart started: on both lines. */
function identityArgs(o: UnitOptions): string[] {
  return [
    ...(o.settings.name ? [`--name=${o.settings.name}`] : []),
    ...(o.settings.runtimeDir ? [`--runtime-dir=${o.settings.runtimeDir}`] : []),
    ...(o.configPath ? [`--config=${o.configPath}`] : []),
  ];
}
