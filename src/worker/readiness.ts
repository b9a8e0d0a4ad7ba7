// When is a worker ready? Once every listen() the app made has completed (at least one did),
// nothing holds readiness back (holdReady() from 'hypnode'), and then the app's HTTP servers
// have answered the readiness probe (ready-probe.ts). The check runs a turn of the event loop
// later, so a second listen() made from the first one's callback still counts. With waitReady
// the app also has to say so, PM2-style, with process.send('ready') or ready(); the probe still
// follows.

export interface ReadinessHooks {
  waitReady: boolean;
  /** Null when the app answers as it should; otherwise why not. Runs once. */
  probe(): Promise<string | null>;
  ready(): void;
  notReady(reason: string): void;
}

export class Readiness {
  private pending = 0;
  private listening = 0;
  private holds = 0;
  private appSaidReady = false;
  private decided = false;

  constructor(private readonly hooks: ReadinessHooks) {}

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

  /** The app said it is ready (needed with waitReady, harmless without). */
  said(): void {
    this.appSaidReady = true;
    this.check();
  }

  private check(): void {
    if (this.decided) return;
    setImmediate(() => {
      if (this.decided || this.pending > 0 || this.holds > 0) return;
      if (this.hooks.waitReady ? !this.appSaidReady : this.listening === 0) return;
      this.decided = true;
      void this.hooks.probe().then((reason) => (reason === null ? this.hooks.ready() : this.hooks.notReady(reason)));
    });
  }
}
