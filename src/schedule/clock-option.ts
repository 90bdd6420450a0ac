/**
 * The `clock` option of `schedule()` and `Scheduler`, checked where it is
 * given: a value without a clock's methods used to be accepted and to
 * fail later as a raw `TypeError` ("clock.now is not a function"), from
 * inside the scheduler's loop.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { systemClock, type Clock } from "../core/clock.js";

/** The clock to use: `clock` when it is one, the system clock when undefined; anything else is an `InvalidOptionError`. */
export function clockOption(clock: unknown): Clock {
  if (clock === undefined) return systemClock;
  // null has no properties to read: it is refused like any other value without the methods.
  const c = (clock ?? {}) as Partial<Clock>;
  if (typeof c.now !== "function" || typeof c.setTimeout !== "function" || typeof c.clearTimeout !== "function") {
    throw new InvalidOptionError("clock", "must have now(), setTimeout(fn, ms) and clearTimeout(handle), such as new ManualClock() or leave it out");
  }
  return clock as Clock;
}
