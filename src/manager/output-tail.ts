import type { Readable } from 'node:stream';
import { LAST_WORDS } from '../worker/last-words.js';

// A worker's output, cut into whole lines as bytes (never decoded, never split again: the
// manager passes a worker's lines on in batches, at request rate), and its last part kept, so
// that a failed reload can show the new code's own error. Kept: the lines passed on, and the
// last words of a worker that wrote its output itself (see worker/last-words.ts); never a marker.

const KEEP_BYTES = 16 * 1024;
/** A "line" that grows past this without a newline (binary output, say) is passed on as one. */
const MAX_LINE_BYTES = 1024 * 1024;
const NEWLINE = Buffer.from('\n');

/** Workers' pipes still open: read to their end before the manager exits (see outputsEnded). */
const following = new Set<Readable>();

/**
 * Resolves once every worker's pipe has ended (every line in them passed on), or after `withinMs`
 * (a process the app left behind may hold one open). A worker that exited a moment before the
 * manager did may still have lines in its pipes: the manager exits only after it passed them on.
 */
export function outputsEnded(withinMs: number): Promise<void> {
  const ends = [...following].map((stream) => new Promise((resolve) => stream.once('close', resolve)));
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, withinMs);
    void Promise.all(ends).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A line the worker writes to say what follows goes elsewhere (see protocol/worker.ts). */
export interface Marker {
  line: Buffer;
  seen(): void;
}

export class OutputTail {
  private kept: Buffer[] = [];
  private keptBytes = 0;

  /**
   * Reads `stream` and hands each batch of complete lines (each ending in a newline) to
   * `lines`; a last line without a newline comes at the end of the stream, given one.
   */
  follow(stream: Readable, passOn: (batch: Buffer[]) => void, marker: Marker | null = null): void {
    const lines = (batch: Buffer[]) => {
      for (const line of batch) this.keep(line);
      passOn(batch);
    };
    const lastWords = marker && Buffer.concat([marker.line.subarray(0, -1), Buffer.from(LAST_WORDS)]);
    let partial: Buffer | null = null;
    following.add(stream);
    stream.once('close', () => following.delete(stream));
    stream.on('data', (chunk: Buffer) => {
      const batch: Buffer[] = [];
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const piece = chunk.subarray(start, nl + 1);
        const line = partial ? Buffer.concat([partial, piece]) : piece;
        partial = null;
        start = nl + 1;
        if (marker && line.equals(marker.line)) {
          // Everything before it, then the news: the marker itself is no output of the app's.
          if (batch.length > 0) lines(batch.splice(0));
          marker.seen();
          continue;
        }
        if (lastWords && line[0] === 0 && line.subarray(0, lastWords.length).equals(lastWords)) {
          if (batch.length > 0) lines(batch.splice(0));
          this.keep(Buffer.from(line.subarray(lastWords.length).toString('latin1'), 'base64'));
          continue;
        }
        batch.push(line);
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        partial = partial ? Buffer.concat([partial, rest]) : rest;
        if (partial.length > MAX_LINE_BYTES) {
          batch.push(Buffer.concat([partial, NEWLINE]));
          partial = null;
        }
      }
      if (batch.length > 0) lines(batch);
    });
    stream.on('end', () => {
      if (partial) lines([Buffer.concat([partial, NEWLINE])]);
    });
  }

  /** The last 16 KiB of everything it wrote. */
  text(): string {
    const all = Buffer.concat(this.kept);
    return all.subarray(Math.max(0, all.length - KEEP_BYTES)).toString('utf8');
  }

  private keep(line: Buffer): void {
    this.kept.push(line);
    this.keptBytes += line.length;
    // Whole lines go once the rest holds enough: at most 16 KiB and one line are kept.
    while (this.keptBytes - this.kept[0]!.length >= KEEP_BYTES) this.keptBytes -= this.kept.shift()!.length;
  }
}
