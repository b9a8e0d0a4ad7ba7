// Until it is ready, a worker's output goes to the manager through its stdout and stderr pipes.
// Node writes to a pipe without blocking: what a full pipe cannot take now waits in libuv's queue
// for the event loop, and a process that exits (process.exit(), a drain, an uncaught exception)
// loses it, the rest of a line the pipe took part of with it. The manager, seeing the pipe end,
// then passed that part on as a whole line (measured: 13 of 200 lines of 16 KB arrived from a
// worker that threw after writing them). Blocking writes, as node's own on a file or a terminal,
// put every byte in the pipe before the write returns: nothing waits in the process to be lost.
// The manager always reads these pipes, so a write waits only as long as it takes it to read.
// The runtime's own last words (a fatal error's stack, written to fd 2 from C++) no longer meet
// EAGAIN either.

interface PipeHandle {
  setBlocking?(blocking: boolean): number;
}

/** Makes the writes to the pipes on fds 1 and 2 blocking (a terminal or file is already). */
export function blockOnPipes(): void {
  for (const stream of [process.stdout, process.stderr]) {
    // The handle of a pipe (net.Socket's _handle, a Pipe), as node itself sets it on Windows.
    const handle = (stream as unknown as { _handle?: PipeHandle })._handle;
    handle?.setBlocking?.(true);
  }
}
