/**
 * A run's deadline (`timeoutMs`): which deadline a session runs under, and
 * the timer that cancels the engine when it passes.
 *
 * Rules. A run started with `timeoutMs` gets the deadline `start +
 * timeoutMs`, stored in its meta (`deadline`), so it holds across crashes
 * and resumes. A resume without `timeoutMs` keeps the stored deadline; one
 * with `timeoutMs` replaces it (counted from the resume). A run resumed
 * after its deadline passed does not start: the session saves it
 * `cancelled` with `RunTimeoutError` and rejects with it.
 *
 * States of a {@link DeadlineTimer}: armed → fired (the engine was
 * cancelled; {@link DeadlineTimer.fired} is set) or disarmed.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../core/clock.js";

/** The deadline a run (re)started at `now` runs under, or undefined for none. */
export function runDeadline(timeoutMs: number | undefined, stored: number | undefined, now: number): number | undefined {
  return timeoutMs !== undefined ? now + timeoutMs : stored;
}

/** The reason a run cancelled by its deadline gives its nodes. */
export function deadlineReason(deadline: number): string {
  return `the run passed its deadline (${new Date(deadline).toISOString()})`;
}

/** Calls `onPass` once the deadline passes, unless disarmed first. */
export class DeadlineTimer {
  readonly #clock: Clock;
  #handle: TimerHandle | undefined;
  /** The deadline, once it passed while armed. */
  fired: number | undefined;

  constructor(clock: Clock, deadline: number | undefined, onPass: (deadline: number) => void) {
    this.#clock = clock;
    if (deadline === undefined) return;
    this.#handle = clock.setTimeout(
      () => {
        this.#handle = undefined;
        this.fired = deadline;
        onPass(deadline);
      },
      Math.max(0, deadline - clock.now()),
    );
  }

  /** Stops the timer (no-op once it fired). */
  disarm(): void {
    if (this.#handle !== undefined) this.#clock.clearTimeout(this.#handle);
    this.#handle = undefined;
  }
}
