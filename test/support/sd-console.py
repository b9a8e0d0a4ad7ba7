#!/usr/bin/env python3
"""sd-console.py LOG -- COMMAND...: runs COMMAND with SD_CONSOLE naming a fresh pty, appends
everything written to that pty to LOG, and exits with COMMAND's status once COMMAND has exited.

Why a pty: systemd 252's user manager logs to /dev/console only, and only when it is a tty (its
stderr and a regular file bound over /dev/console stay empty), and Node cannot make a pty without
a native module. sd-sandbox.sh mounts the pty over /dev/console in its own mount namespace.

Why a subreaper: processes orphaned in the sandbox (a unit's leftovers, once the manager, itself a
subreaper, is gone) would otherwise become children of the machine's PID 1, and in a container
that may never reap them. Here they are reaped, so the sandbox leaves no zombie behind either.

COMMAND's stdin, stdout and stderr are this process's own: the harness's lifeline passes through.
"""
import ctypes
import os
import pty
import select
import sys
import time
import tty

PR_SET_CHILD_SUBREAPER = 36

log_path, command = sys.argv[1], sys.argv[2:]
if command[:1] == ['--']:
    command = command[1:]
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
master, slave = pty.openpty()
tty.setraw(slave)  # no echo and no CRLF: the log reads as the manager wrote it
# The slave stays open here too, so that reading the master never fails between its users.
child = os.posix_spawnp(command[0], command, {**os.environ, 'SD_CONSOLE': os.ttyname(slave)})
status = None


def reap():
    """Collects every exited child, COMMAND's status among them."""
    global status
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if pid == child:
            status = os.waitstatus_to_exitcode(wait_status)


with open(log_path, 'ab', buffering=0) as log:
    while True:
        readable, _, _ = select.select([master], [], [], 0.1)
        data = os.read(master, 65536) if readable else b''
        if data:
            log.write(data)
            continue
        reap()
        if status is not None:
            break
# COMMAND has ended every process it knew of: give the last orphans a moment to be reaped.
deadline = time.monotonic() + 2
while time.monotonic() < deadline:
    try:
        if os.waitpid(-1, os.WNOHANG)[0] == 0:
            time.sleep(0.05)
    except ChildProcessError:
        break
sys.exit(status if status >= 0 else 128 - status)
