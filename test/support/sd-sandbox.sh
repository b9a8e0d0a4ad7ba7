#!/usr/bin/env bash
# sd-sandbox.sh DIR: runs a real systemd user manager (the distro's own) in a private mount and
# cgroup namespace, so that `systemctl --user` works on a machine whose PID 1 is not systemd, and
# nothing the manager does can reach the host's processes. Needs root.
#
#   DIR/xdg            XDG_RUNTIME_DIR: the manager's private bus socket (systemctl can reach it
#                      from outside the namespace), notify socket, runtime units
#   DIR/config         XDG_CONFIG_HOME: units go in DIR/config/systemd/user
#   DIR/cgroups        the sandbox's own cgroup directories, one a line, written before the manager
#                      starts: whatever runs in them belongs to the sandbox
#   DIR/log/journal    with SD_SANDBOX_JOURNAL=1: the journal of a journald of its own
#
# Prints "ready PID" (the manager's PID) on stdout once the manager answers, then serves until its
# stdin ends: the harness holds the other end of that pipe, so the sandbox is torn down however
# the harness dies. Teardown stops every unit (exit.target), ends the manager, ends whatever is
# still in the sandbox's cgroups by PID and removes them. With SD_CONSOLE set to a tty (a pty
# slave), that tty is mounted over /dev/console, the only place the manager writes its log to.
# With SD_ROOT set to another systemd's unpacked packages (dpkg -x), that systemd runs instead.
set -euo pipefail

if [[ "${1:-}" == "--inner" ]]; then
  DIR=$2
  # Only ever inside the namespaces unshare made below: anywhere else the manager would take over
  # the host's cgroups.
  for ns in mnt cgroup; do
    if [[ $(readlink /proc/self/ns/$ns) == "$(readlink /proc/$PPID/ns/$ns)" ]]; then
      echo "sd-sandbox: --inner must run in its own $ns namespace" >&2
      exit 1
    fi
  done
  mkdir -p /run/systemd
  mount -t tmpfs tmpfs /run/systemd
  # The manager checks for /run/systemd/system (sd_booted) before it believes systemd runs here.
  mkdir -p /run/systemd/system
  # The nodes PID 1 makes at boot, which ProtectHome=, ProtectKernelTunables=, ProtectKernelLogs=
  # and InaccessiblePaths= bind over what they hide: without them such units fail (226/NAMESPACE).
  I=/run/systemd/inaccessible
  mkdir -p $I
  mkdir -m 0000 $I/dir
  install -m 0000 /dev/null $I/reg
  mkfifo -m 0000 $I/fifo
  python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' $I/sock && chmod 0000 $I/sock
  mknod -m 0000 $I/chr c 0 0
  mknod -m 0000 $I/blk b 0 0
  # Remount every hierarchy inside the new cgroup namespace, so that its root is the sandbox's own
  # cgroup: otherwise the manager sees the host's whole tree and adopts every process in it.
  mapfile -t HIER < <(findmnt -rn -t cgroup,cgroup2 -o TARGET,FSTYPE,OPTIONS)
  mount -t tmpfs -o mode=755 cgroups /sys/fs/cgroup
  for line in "${HIER[@]}"; do
    read -r target fstype opts <<< "$line"
    mkdir -p "$target"
    if [[ $fstype == cgroup2 ]]; then
      mount -t cgroup2 cgroup2 "$target"
    else
      want=$(tr ',' '\n' <<< "$opts" | grep -Ev '^(rw|ro|relatime|noatime|nosuid|nodev|noexec)$' | paste -sd, -)
      mount -t cgroup -o "$want" cgroup "$target"
    fi
  done
  out=/dev/null
  if [[ -n ${SD_CONSOLE:-} ]]; then
    mount --bind "$SD_CONSOLE" /dev/console
    out=/dev/console
  fi
  if [[ -n ${SD_SANDBOX_JOURNAL:-} ]]; then
    # A journald of the sandbox's own, for units with StandardOutput=journal: volatile, kept in
    # DIR/log (journalctl -D DIR/log/journal reads it from outside), and without rate limits, so
    # that a benchmark's flood of lines is counted, not suppressed.
    mkdir -p /run/systemd/journal /run/log "$DIR/log"
    mount --bind "$DIR/log" /run/log
    printf '[Journal]\nStorage=volatile\nRateLimitIntervalSec=0\nRateLimitBurst=0\nRuntimeMaxUse=1G\n' > "$DIR/journald.conf"
    [[ -f /etc/systemd/journald.conf ]] && mount --bind "$DIR/journald.conf" /etc/systemd/journald.conf
    /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
    JD=$!
    for _ in $(seq 1 100); do [[ -S /run/systemd/journal/stdout ]] && break; sleep 0.05; done
  fi
  export XDG_RUNTIME_DIR=$DIR/xdg XDG_CONFIG_HOME=$DIR/config
  # The manager logs to /dev/console itself; its stdout and stderr, which units inherit (see
  # user.conf below), go through a pipe as under a real journal: a unit must not see a tty.
  SYSTEMD=/lib/systemd/systemd
  if [[ -n ${SD_ROOT:-} ]]; then
    # Another systemd, unpacked from its Debian packages: its libraries over the machine's, here only.
    mount --bind "$SD_ROOT/usr/lib/x86_64-linux-gnu/systemd" /usr/lib/x86_64-linux-gnu/systemd
    SYSTEMD=$SD_ROOT/lib/systemd/systemd
  fi
  "$SYSTEMD" --user --log-target=console --log-level=info --log-color=no </dev/null > >(cat >"$out") 2>&1 &
  SD=$!
  up=
  for _ in $(seq 1 200); do
    if [[ -S $XDG_RUNTIME_DIR/systemd/private ]] && systemctl --user is-system-running >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$SD" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -n $up ]]; then
    # As /run and /run/systemd/notify are on a real system: a unit with User= must reach the
    # notify socket (and its RuntimeDirectory=, which a user manager makes under XDG_RUNTIME_DIR).
    chmod 0755 "$XDG_RUNTIME_DIR"
    chmod 0777 "$XDG_RUNTIME_DIR/systemd/notify"
    echo "ready $SD"
    while read -r _; do :; done
  else
    echo "sd-sandbox: the user manager did not come up" >&2
  fi
  # exit.target stops every unit (each within DefaultTimeoutStopSec=) and then the manager exits.
  kill -TERM "$SD" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$SD" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$SD" 2>/dev/null || true
  wait "$SD" 2>/dev/null || true
  if [[ -n ${JD:-} ]]; then kill -TERM "$JD" 2>/dev/null || true; wait "$JD" 2>/dev/null || true; fi
  [[ -n $up ]] || exit 1
  exit 0
fi

DIR=$(realpath -m "$1")
mkdir -p "$DIR/xdg" "$DIR/config/systemd/user"
chmod 700 "$DIR/xdg"
# In user.conf, not on the command line: daemon-reload rereads this file and resets the rest.
# Without a journald, units write to the manager's stdout (the console) instead of a journal that
# is not there, so their output lands in the same log; with one, to the journal, as services do by
# default. Stops hang no longer than the harness's units need.
OUTPUT=inherit
[[ -n ${SD_SANDBOX_JOURNAL:-} ]] && OUTPUT=journal
printf '[Manager]\nDefaultStandardOutput=%s\nDefaultStandardError=inherit\nDefaultTimeoutStopSec=10s\n' "$OUTPUT" > "$DIR/config/systemd/user.conf"
HOMES=() MINE=()
mapfile -t CGROUPS < /proc/self/cgroup  # read it whole first: it changes as we move
for line in "${CGROUPS[@]}"; do
  IFS=: read -r _ ctrl path <<< "$line"
  # cpuset is left alone: a fresh cpuset cgroup has no CPUs and no memory nodes, so nothing could run.
  case $ctrl in name=systemd) h=systemd ;; "") h=unified ;; *cpuset*) continue ;; *) h=${ctrl%%,*} ;; esac
  base=/sys/fs/cgroup/$h
  # Pure cgroup2 machines mount the unified hierarchy on /sys/fs/cgroup itself.
  [[ $h == unified && ! -d $base ]] && base=/sys/fs/cgroup
  [[ -d $base$path ]] || continue
  mine=${base}${path%/}/sd-sandbox-$$
  mkdir -p "$mine" && echo $$ > "$mine/cgroup.procs" && { HOMES+=("$base$path"); MINE+=("$mine"); }
done
printf '%s\n' "${MINE[@]}" > "$DIR/cgroups"

left() { cat $(find "${MINE[@]}" -name cgroup.procs 2>/dev/null) 2>/dev/null | sort -u; }
teardown() {
  (( ${#MINE[@]} > 0 )) || return 0
  for i in "${!MINE[@]}"; do { echo $$ > "${HOMES[$i]}/cgroup.procs"; } 2>/dev/null || true; done
  # Whatever the manager left behind lives in the sandbox's cgroups: a moment to exit, then SIGKILL.
  for _ in $(seq 1 20); do [[ -z $(left) ]] && break; sleep 0.1; done
  for pid in $(left); do kill -KILL "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do [[ -z $(left) ]] && break; sleep 0.1; done
  for d in "${MINE[@]}"; do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
}
trap teardown EXIT
# Without a cgroup of its own in the hierarchy systemd uses, the manager would adopt every process.
(( ${#MINE[@]} > 0 )) || { echo "sd-sandbox: could not make a cgroup of its own" >&2; exit 1; }
unshare --mount --propagation private --cgroup "$0" --inner "$DIR"
