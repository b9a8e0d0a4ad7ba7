import type { Readable } from 'node:stream';

// A worker's output, passed on line by line and its last part kept, so that a failed reload can
// show the new code's own error.

const KEEP_BYTES = 16 * 1024;

export class OutputTail {
  private kept = '';

  /** Reads `stream` and calls `line` for each complete line (and the last, unterminated one). */
  follow(stream: Readable, line: (text: string) => void): void {
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      this.keep(chunk);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) line(l);
    });
    stream.on('end', () => {
      if (partial) line(partial);
    });
  }

  text(): string {
    return this.kept;
  }

  private keep(chunk: string): void {
    this.kept += chunk;
    if (this.kept.length > KEEP_BYTES) this.kept = this.kept.slice(-KEEP_BYTES);
  }
}
