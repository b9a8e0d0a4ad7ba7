// The control channel speaks newline-delimited JSON over a unix socket: the client sends one
// request line; the manager answers with progress lines and one final line, then closes.

export type Command = 'reload' | 'status' | 'stop' | 'stop-fast' | 'workers+' | 'workers-';
export const COMMANDS: readonly Command[] = ['reload', 'status', 'stop', 'stop-fast', 'workers+', 'workers-'];

export interface Request {
  cmd: Command;
}

export type Reply =
  | { progress: string }
  | { ok: true; result: unknown }
  /** `denied`: the caller may not control this instance at all (see peer.ts). */
  | { ok: false; error: string; output?: string; denied?: true };

/** A request line longer than this is refused: the channel carries short commands only. */
export const MAX_LINE_BYTES = 64 * 1024;

export function parseRequest(line: string): Request | string {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return 'request is not JSON';
  }
  const cmd = (data as { cmd?: unknown } | null)?.cmd;
  if (typeof cmd !== 'string' || !(COMMANDS as readonly string[]).includes(cmd)) {
    return `unknown command; expected one of ${COMMANDS.join(', ')}`;
  }
  return { cmd: cmd as Command };
}

/** Splits a byte stream into lines, refusing any line over MAX_LINE_BYTES. */
export class LineReader {
  private buffer = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(line);
    }
    if (Buffer.byteLength(this.buffer) > MAX_LINE_BYTES) {
      this.buffer = '';
      this.onOverflow();
    }
  }
}
