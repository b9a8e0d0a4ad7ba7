import { setFlagsFromString } from 'node:v8';

// The manager is a small long-lived process whose JavaScript never runs hot: workers accept and
// serve on their own, the manager handles a heartbeat per worker and second and a command now
// and then. Loading its modules at start still makes a few functions of node's module loader
// hot enough for V8's optimizing compilers (TurboFan; Maglev on Node 22), and the compiler's own
// code, some 4 to 6 MB of the node binary, then stays resident for the manager's whole life.
// Capped at the baseline compiler (Sparkplug), nothing the manager does is noticeably slower;
// the CLI's other commands are short-lived or idle (top) and lose nothing either. It must be set
// before the modules load; Node 24 freezes V8's flags at start, and there it changes nothing.

/** Keeps the optimizing compilers out of this process: call before the CLI's modules load. */
export function baselineTierOnly(): void {
  setFlagsFromString('--max-opt=1');
}

// V8 doubles the young generation whenever a scavenge finds much of it alive, as happens while
// the manager loads its modules, and the grown space stays resident for the manager's life
// though the idle manager allocates little (a heartbeat per worker and second). Held from growing,
// it stayed at 2 MB instead of 4 (2.8 MB resident) on Node 20, 0.7 MB less RSS: a busy moment
// costs a few more scavenges of a small space, each well under a millisecond. Newer V8 keeps the
// factor at 2 at least: there this changes nothing.

/** Keeps the young generation at its initial size: call before the CLI's modules load. */
export function youngGenerationHeld(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
