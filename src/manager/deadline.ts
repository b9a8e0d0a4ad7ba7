import { processHost, type Cancel, type Clock } from './host.js';

// A deadline for a worker, judged by what the worker sent, not by the manager's clock alone.
// When the manager itself did not run for a while (SIGSTOP, a cgroup freezer, a paused VM, heavy
// swapping), its timers are overdue the moment it runs again, and the event loop runs them before
// it reads the messages (heartbeats, "ready", "drained") that the workers sent meanwhile and that
// wait in their pipes. So the verdict waits one more turn of the event loop, in which those pipes
// are read: a message that settles the matter cancels the deadline before it passes.

export class Deadline {
  private timer: Cancel | null;
  private verdict: Cancel | null = null;

  constructor(ms: number, passed: () => void, clock: Clock = processHost) {
    this.timer = clock.after(ms, () => {
      this.timer = null;
      this.verdict = clock.soon(() => {
        this.verdict = null;
        passed();
      });
    });
  }

  cancel(): void {
    this.timer?.();
    this.verdict?.();
    this.timer = null;
    this.verdict = null;
  }
}
