// When is a worker ready? By default: once every listen() the app made has completed, at least
// one did, and nothing holds readiness back (holdReady() from 'hypnode'). The check runs a turn
// of the event loop later, so a second listen() made from the first one's callback still counts.
// With waitReady the app decides alone, PM2-style, with process.send('ready') or ready().

export class Readiness {
  private pending = 0;
  private listening = 0;
  private holds = 0;
  private sent = false;

  constructor(
    private readonly waitReady: boolean,
    private readonly announce: () => void,
  ) {}

  requested(): void {
    this.pending++;
  }

  settled(ok: boolean): void {
    this.pending--;
    if (ok) this.listening++;
    this.check();
  }

  hold(): () => void {
    this.holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.holds--;
      this.check();
    };
  }

  private check(): void {
    if (this.sent || this.waitReady) return;
    setImmediate(() => {
      if (this.sent || this.pending > 0 || this.listening === 0 || this.holds > 0) return;
      this.sent = true;
      this.announce();
    });
  }
}
