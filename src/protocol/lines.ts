// Splits a stream of text into lines, refusing any line over a limit, so that a peer cannot
// make the reader hold an endless line.

/** A request line longer than this is refused: the control channel carries short commands. */
export const MAX_LINE_BYTES = 64 * 1024;
/** An answer may be long (the status of hundreds of workers), not endless. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export class LineReader {
  private buffer = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
    private readonly maxBytes = MAX_LINE_BYTES,
  ) {}

  push(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(line);
    }
    if (Buffer.byteLength(this.buffer) > this.maxBytes) {
      this.buffer = '';
      this.onOverflow();
    }
  }
}
