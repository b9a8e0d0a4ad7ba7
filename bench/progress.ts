// Progress lines go to stderr so that stdout carries the Markdown report alone.
export function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
