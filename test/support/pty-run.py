# Runs a command in a pseudo-terminal (80x24), as a person's terminal would, and prints all it
# wrote. With a pattern: once the output matches it, types "q" (and, 10 s later, kills the
# command). Exits with the command's exit code; kills it after the time limit.
#   python3 pty-run.py LIMIT_SECONDS PATTERN|- COMMAND ARGS...
import fcntl, os, pty, re, select, signal, struct, sys, termios, time

limit, pattern, argv = float(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
out = b''
deadline = time.time() + limit
typed = None
while True:
    now = time.time()
    if now > deadline or (typed and now > typed + 10):
        os.kill(pid, signal.SIGKILL)
        break
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    if pattern != '-' and typed is None and re.search(pattern.encode(), out):
        os.write(fd, b'q')
        typed = time.time()
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 124)
