import { addTraffic, noTraffic, type TrafficCounts } from '../protocol/traffic.js';

// A worker's running traffic totals at its recent heartbeats, so that its counts between two
// moments can be read afterwards: the old generation's window before a reload's switch is known
// only once the new code's window has ended.

/** Heartbeats kept: minutes at the default interval, bounded whatever the interval. */
const KEPT = 120;

export class TrafficHistory {
  private readonly samples: { at: number; counts: TrafficCounts }[] = [];
  private forgotten = false;

  add(counts: TrafficCounts, at = Date.now()): void {
    // Totals that did not move (an idle worker's, each heartbeat; latencies and routes move only
    // with the status counts) add nothing: the sample of their last change stands for every moment
    // since, and the kept ones reach further back.
    const last = this.samples.at(-1)?.counts;
    if (last && last.aborted === counts.aborted && last.status.every((n, i) => n === counts.status[i])) return;
    this.samples.push({ at, counts });
    if (this.samples.length > KEPT) {
      this.samples.shift();
      this.forgotten = true;
    }
  }

  /** The totals as of the last heartbeat at or before `at`: none before the first; the oldest kept, before that (a window cut short, not one that reaches back to the start). */
  at(at: number): TrafficCounts {
    for (let i = this.samples.length - 1; i >= 0; i--) if (this.samples[i].at <= at) return this.samples[i].counts;
    return this.forgotten ? this.samples[0].counts : noTraffic();
  }

  /** What it answered between the two moments (to heartbeat precision). */
  between(from: number, to: number): TrafficCounts {
    return addTraffic(addTraffic(noTraffic(), this.at(to)), this.at(from), -1);
  }
}
