/**
 * A stopwatch of named phases (start-up: decode, check, transform, encode, hash, session, probe…),
 * so the summary and the bench say where the fixed cost of a run goes.
 */

/** Seconds spent per phase, in the order the phases first ran. */
export type Phases = Record<string, number>;

/** A stopwatch: each {@link PhaseClock.lap} charges the time since the previous lap to a phase. */
export class PhaseClock {
  private last = performance.now();
  private readonly started = this.last;
  /** Seconds by phase (a phase lapped twice adds up). */
  readonly phases: Phases = {};

  /** Charges the time since the last lap (or the start) to `phase`. */
  lap(phase: string): void {
    const now = performance.now();
    this.phases[phase] = (this.phases[phase] ?? 0) + (now - this.last) / 1000;
    this.last = now;
  }

  /** Seconds since the clock started. */
  elapsed(): number {
    return (performance.now() - this.started) / 1000;
  }
}
