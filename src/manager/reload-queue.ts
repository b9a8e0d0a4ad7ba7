// Reloads never overlap. A request that comes in while one runs waits for it and then shares a
// single further run with every other request that came in meanwhile: each caller gets the
// result of a reload that started after it asked, so it sees the code that was on disk then.

export class ReloadQueue<T> {
  private running: Promise<T> | null = null;
  private queued: Promise<T> | null = null;

  constructor(private readonly run: () => Promise<T>) {}

  request(): Promise<T> {
    if (!this.running) return this.start();
    this.queued ??= this.running.then(
      () => this.start(),
      () => this.start(),
    );
    return this.queued;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  private start(): Promise<T> {
    this.queued = null;
    const p = this.run();
    this.running = p;
    void p.finally(() => {
      if (this.running === p) this.running = null;
    }).catch(() => {});
    return p;
  }
}
