/**
 * The wall clock, as a port. Only edges use it: a human command is stamped when it is issued,
 * and the orchestration log records how long an attempt took. No decision reads it: decisions
 * take their time from the event being handled, or replay could not be byte-identical.
 */
export interface Clock {
  now(): Date;
  /** Monotonic milliseconds, for durations only. */
  monotonicMs(): number;
}

export const systemClock: Clock = {
  now: () => new Date(),
  monotonicMs: () => performance.now(),
};

/** A clock that stands still until moved: for tests and for replays. */
export class FixedClock implements Clock {
  private ms: number;

  constructor(start: Date | string = '2026-01-01T00:00:00.000Z') {
    this.ms = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.ms);
  }

  monotonicMs(): number {
    return this.ms;
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}
