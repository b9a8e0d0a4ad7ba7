import { notify, requireNative } from '../native.js';

// The sd_notify protocol (man sd_notify), spoken by the process systemd started as the service's
// main process. Without NOTIFY_SOCKET (not under systemd, or Type= without notifications) every
// method does nothing, so callers never need to ask.

// systemd 252 drops a whole datagram of PIPE_BUF (4096) bytes or more, so free text is kept short.
const MAX_TEXT_BYTES = 1024;

export interface FdStoreOptions {
  /**
   * false sends FDPOLL=0: systemd then does not drop the fds from the store when they report
   * EPOLLHUP/EPOLLERR. A listening socket never does; leave it on for connected ones.
   */
  poll?: boolean;
}

export class SystemdNotifier {
  /** False when there is no NOTIFY_SOCKET: every method is then a no-op. */
  readonly enabled: boolean;
  /** The watchdog period systemd expects pings within, when it is meant for this process. */
  readonly watchdogUsec: number | null;
  private socket: string | null;
  private watchdog: NodeJS.Timeout | null = null;

  /**
   * Takes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID out of `env`, so that processes this one
   * starts (the app's workers) neither notify systemd in its name nor see a watchdog they do not own.
   * Throws NativeAddonError when there is a socket to talk to but the addon is missing: better at
   * startup than at the first READY=1 (systemd would wait for that until TimeoutStartSec=). Its
   * one-line message says what to install.
   */
  constructor(env: NodeJS.ProcessEnv = process.env) {
    const { NOTIFY_SOCKET: socket, WATCHDOG_USEC: usec, WATCHDOG_PID: watchdogPid } = env;
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
    this.socket = socket ? socket : null;
    this.enabled = this.socket !== null;
    this.watchdogUsec = this.enabled ? watchdogPeriod(usec, watchdogPid) : null;
    if (this.enabled) requireNative('cannot speak sd_notify to systemd (NOTIFY_SOCKET is set) without a native addon');
  }

  /** READY=1: startup (or, after reloading(), the reload) is complete and the service serves. */
  ready(status?: string): void {
    this.send(['READY=1', ...statusField(status)]);
  }

  /**
   * RELOADING=1, with the CLOCK_MONOTONIC time systemd ≥ 253 uses to match it to the reload it
   * asked for (252 ignores MONOTONIC_USEC). systemd keeps the unit "reloading" until ready() is
   * sent again: call ready() after a failed reload too, or the unit stays reloading until
   * TimeoutStartSec= has passed.
   */
  reloading(status?: string): void {
    this.send(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, ...statusField(status)]);
  }

  /** STOPPING=1: shutdown has begun; the unit shows "deactivating" and TimeoutStopSec= runs. */
  stopping(status?: string): void {
    this.send(['STOPPING=1', ...statusField(status)]);
  }

  /** STATUS=: one line shown by `systemctl status` (newlines become spaces, long text is cut). */
  status(text: string): void {
    this.send(statusField(text));
  }

  /** EXTEND_TIMEOUT_USEC=: the current start, reload or stop may take `usec` more from now. */
  extendTimeout(usec: number): void {
    this.send([`EXTEND_TIMEOUT_USEC=${microseconds(usec)}`]);
  }

  /** MAINPID=: another process is now the service's main process. */
  mainPid(pid: number): void {
    this.send([mainPidField(pid)]);
  }

  /**
   * An upgrade's last word: `pid` is the main process now, and ready (one datagram, which ends a
   * reload systemd waits for as well: a READY=1 of the new process before it is main would be
   * dropped). From then on systemd refuses this process's notifications, so none are sent.
   */
  handOver(pid: number, status?: string): void {
    const fields = [mainPidField(pid), 'READY=1', ...statusField(status)];
    this.stopWatchdog();
    try {
      this.send(fields);
    } finally {
      this.socket = null;
    }
  }

  /**
   * An upgrade's last word said by the new manager itself, its predecessor having died first:
   * this process is the main one, and ready. systemd takes it from a process that is not (yet)
   * its main one only with NotifyAccess=all; with PIDFile= it has made it main already.
   */
  claimMain(status?: string): void {
    this.send([mainPidField(process.pid), 'READY=1', ...statusField(status)]);
  }

  /** What a successor manager needs to speak to systemd as this one does, once it is the main process. */
  successorEnv(): Record<string, string> {
    if (this.socket === null) return {};
    return { NOTIFY_SOCKET: this.socket, ...(this.watchdogUsec === null ? {} : { WATCHDOG_USEC: String(this.watchdogUsec) }) };
  }

  /**
   * FDSTORE=1: systemd keeps `fds` (needs FileDescriptorStoreMax= > 0 in the unit) and passes them
   * back, as LISTEN_FDS with this name in LISTEN_FDNAMES, when the service is started again after
   * a crash or `systemctl restart`. It dedupes: storing a fd it already holds changes nothing.
   * systemd 252 empties the store when the unit stops for good (FileDescriptorStorePreserve= is 254+).
   */
  fdStore(name: string, fds: number[], options: FdStoreOptions = {}): void {
    if (!isValidFdName(name)) throw new RangeError(`not a valid fd store name: ${JSON.stringify(name)}`);
    if (fds.length === 0) return;
    this.send(['FDSTORE=1', `FDNAME=${name}`, ...(options.poll === false ? ['FDPOLL=0'] : [])], fds);
  }

  /** FDSTOREREMOVE=1: systemd closes every stored fd with this name. */
  fdStoreRemove(name: string): void {
    if (!isValidFdName(name)) throw new RangeError(`not a valid fd store name: ${JSON.stringify(name)}`);
    this.send(['FDSTOREREMOVE=1', `FDNAME=${name}`]);
  }

  /**
   * Sends WATCHDOG=1 now and then every half period, from a timer on this event loop: a blocked
   * loop stops the pings, and systemd restarts the service. Returns false (and does nothing) when
   * systemd has no watchdog for this process. The timer never keeps the process alive by itself.
   */
  startWatchdog(): boolean {
    if (this.watchdogUsec === null) return false;
    if (this.watchdog) return true;
    this.ping();
    this.watchdog = setInterval(() => this.ping(), Math.max(1, Math.floor(this.watchdogUsec / 2000)));
    this.watchdog.unref();
    return true;
  }

  stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private ping(): void {
    try {
      this.send(['WATCHDOG=1']);
    } catch {
      // A ping that cannot be sent is what the watchdog exists to notice: systemd acts once pings
      // stop arriving, and the next tick tries again. Throwing from a timer would crash the service.
    }
  }

  private send(fields: string[], fds: number[] = []): void {
    if (this.socket === null) return;
    notify(this.socket, fields.join('\n'), fds);
  }
}

/**
 * What systemd accepts as FDNAME= (it becomes a LISTEN_FDNAMES entry): 1 to 255 printable ASCII
 * characters, no ':' (the separator in LISTEN_FDNAMES). systemd would store an fd under an invalid
 * name as "stored" instead, so it is refused here.
 */
export function isValidFdName(name: string): boolean {
  return /^[\x20-\x39\x3b-\x7e]{1,255}$/.test(name);
}

/** CLOCK_MONOTONIC in µs: libuv's uv_hrtime(), behind process.hrtime, reads CLOCK_MONOTONIC on Linux. */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

function watchdogPeriod(usec: string | undefined, pid: string | undefined): number | null {
  // As sd_watchdog_enabled(): a WATCHDOG_PID for another process means the watchdog is not ours.
  if (pid !== undefined && pid !== String(process.pid)) return null;
  const period = usec !== undefined && /^\d+$/.test(usec) ? Number(usec) : 0;
  return period > 0 && Number.isSafeInteger(period) ? period : null;
}

function mainPidField(pid: number): string {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new RangeError(`not a PID: ${pid}`);
  return `MAINPID=${pid}`;
}

function statusField(text: string | undefined): string[] {
  return text === undefined ? [] : [`STATUS=${oneLine(text)}`];
}

// A field ends at a newline, and systemd rejects messages with NUL bytes.
function oneLine(text: string): string {
  const line = text.replace(/[\0\r\n]+/g, ' ');
  if (Buffer.byteLength(line) <= MAX_TEXT_BYTES) return line;
  let cut = '';
  let bytes = 0;
  for (const char of line) {
    bytes += Buffer.byteLength(char);
    if (bytes > MAX_TEXT_BYTES - 3) break;
    cut += char;
  }
  return `${cut}…`;
}

function microseconds(usec: number): number {
  if (!Number.isSafeInteger(usec) || usec < 0) throw new RangeError(`not a number of microseconds: ${usec}`);
  return usec;
}
