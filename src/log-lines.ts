// Log lines as bytes, each ending in a newline, batched for the writers of a shared sink (the
// manager's log-sink.ts, a worker's output-queue.ts).

/** A write of at most this many bytes to a pipe is atomic (PIPE_BUF on Linux). */
export const PIPE_BUF = 4096;

/**
 * Where to cut `lines` (whole lines) for one write under the lock: after the last line that ends
 * within PIPE_BUF (an atomic write, holding the sink for no longer than the call), or, when the
 * first line alone is longer, after it (the only batch that holds the sink while a full pipe
 * makes it wait). A stalled pipe then holds the lock, which its writers' other sinks share, for
 * a line under way at most, never for a batch.
 */
export function atomicCut(lines: Buffer): number {
  const last = lines.lastIndexOf(10, PIPE_BUF - 1);
  if (last >= 0) return last + 1;
  const first = lines.indexOf(10);
  return first >= 0 ? first + 1 : lines.length;
}

/** How many lines `bytes` holds (its newlines). */
export function countLines(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}
