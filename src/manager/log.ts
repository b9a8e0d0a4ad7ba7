// The manager's own log lines and the workers' output, each line tagged with who wrote it.

export type Level = 'info' | 'warn' | 'error';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** A line a worker wrote; `stream` tells stdout from stderr. */
  worker(generation: number, pid: number, stream: 'stdout' | 'stderr', line: string): void;
}

export function consoleLogger(): Logger {
  const write = (stream: NodeJS.WriteStream, text: string) => stream.write(`${text}\n`);
  return {
    info: (msg) => write(process.stdout, `[hypnode] ${msg}`),
    warn: (msg) => write(process.stderr, `[hypnode] warning: ${msg}`),
    error: (msg) => write(process.stderr, `[hypnode] error: ${msg}`),
    worker: (gen, pid, stream, line) => write(stream === 'stdout' ? process.stdout : process.stderr, `[g${gen} ${pid}] ${line}`),
  };
}
