import type { ListenKey } from './listen-key.js';
import type { InstancePaths } from './control.js';
import type { WorkerExit } from './worker-exit.js';
import type { UpgradeResult } from './status.js';

// An upgrade of the manager itself: the old manager starts the new one and hands it everything it
// holds. Both speak newline-delimited JSON over a socketpair (the new manager's fd 3), and the
// old one passes what the new one needs to know in HYPNODE_UPGRADE:
//
//   new → old   started · progress* · ready | failed (its first generation is standing by, the
//                                                      PID file names the new manager)
//   old → new   take                                  (accept: the old stops accepting next)
//   new → old   accepting · crash*                    (a crash fails the upgrade until commit)
//   old → new   commit | abort                        (the probation passed, the old drained)
//   new → old   committed | failed
//   old → new   main                                  (systemd was told MAINPID=new READY=1; the
//                                                      control socket is the new one's to answer)
//
// Until `commit` the old manager serves on untouched whatever the new one does: it only has to
// resume its workers, say `abort` and close the channel, and the new manager kills its workers and
// exits. A channel that closes with no `abort`, the old manager dead, means the opposite: the new
// one finishes the takeover alone (see upgrade/handover). The new manager writes the PID file as
// soon as its workers stand by, so that a supervisor reading it (systemd's PIDFile=) finds the
// survivor whichever dies; the old one restores it if the upgrade fails.

export const UPGRADE_ENV = 'HYPNODE_UPGRADE';
export const CHANNEL_FD = 3;

/** Who a manager is, for the log and `hypnode status`. */
export interface ManagerIdentity {
  pid: number;
  hypnode: string;
  node: string;
  nodePath: string;
}

export interface HandedSocket {
  fd: number;
  /** systemd's name for it (socket unit or fd store), null for the manager's own. */
  name: string | null;
  key: ListenKey;
}

export interface UpgradeHandoff {
  from: ManagerIdentity;
  startedAt: number;
  /** The instance's control socket (as the old manager named it) and PID file. */
  paths: InstancePaths;
  pidFile: string | null;
  /** The new manager's first generation takes the next number. */
  generation: number;
  sockets: HandedSocket[];
  /** The control socket and the instance lock, listening. */
  control: { socketFd: number; lockFd: number | null };
  /** The lock writers of a shared pipe or socket take turns by (see manager/log-sink). */
  outputLockFd: number | null;
  /** The --admin socket, listening, and the address it was bound to. */
  admin: { fd: number; address: string } | null;
}

export type FromNew =
  | { started: ManagerIdentity }
  | { progress: string }
  | { ready: true }
  | { failed: string; output: string }
  | { accepting: true }
  | { crash: WorkerExit; output: string }
  | { committed: true };

export type FromOld = { take: true } | { commit: true } | { abort: true } | { main: UpgradeResult };
