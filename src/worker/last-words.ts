// Once ready, a worker writes its output to the sinks itself (see output.ts): the manager's tail of
// its pipes no longer sees the app's lines, yet a worker that dies must leave its last lines for
// the failed reload and `status --json` `lastCrash.output`. So the worker keeps the last of what
// it wrote directly (the app's strings by reference: no encoding, no syscall at request rate), and at
// its exit, which Node runs for process.exit() and for an uncaught exception alike (before the
// runtime prints the exception's stack to the pipe), writes them down the stderr pipe as one line
// that the manager keeps in its tail and logs not (src/manager/output-tail.ts). A worker killed by
// a signal writes nothing more: its tail ends with what came through the pipe.

/**
 * The pipe is non-blocking: a write of at most PIPE_BUF (4096) bytes goes whole or not at all, so
 * the line (its marker, and the lines in base64, a third more) never reaches the manager torn.
 */
const KEEP_BYTES = 3000;

/** The prefix of the line that carries them, after the worker's output marker. */
export const LAST_WORDS = ':last-words:';

type Chunk = string | Uint8Array;

export class LastWords {
  private chunks: (string | Buffer)[] = [];
  /** Counted in UTF-16 units for a string: a bound, not an exact size. */
  private bytes = 0;

  keep(chunk: Chunk, encoding?: BufferEncoding): void {
    // A buffer is copied: the app may reuse it.
    const kept = typeof chunk === 'string' ? (encoding && encoding !== 'utf8' ? Buffer.from(chunk, encoding) : chunk) : Buffer.from(chunk);
    this.chunks.push(kept);
    this.bytes += kept.length;
    while (this.bytes - this.chunks[0]!.length >= KEEP_BYTES) this.bytes -= this.chunks.shift()!.length;
  }

  /** The line to write at exit (base64: one line whatever the app wrote), or null if it wrote nothing. */
  line(marker: string): string | null {
    if (this.bytes === 0) return null;
    const all = Buffer.concat(this.chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
    this.chunks = [];
    this.bytes = 0;
    return `${marker}${LAST_WORDS}${all.subarray(Math.max(0, all.length - KEEP_BYTES)).toString('base64')}\n`;
  }
}
