/**
 * The pacing of a stage runner's sweeps: reading many stored runs with a
 * bounded number in flight, and waiting on the injected clock for the
 * next sweep (`refreshEveryMs`) unless the run's signal aborts first.
 *
 * Invariants: results keep the order of their items; a wait never
 * outlives its abort (the timer is cleared), an abort never leaves a
 * listener behind once the timer fired, and no timer is given a delay
 * beyond what a Node timer holds (a longer wait is armed in pieces).
 *
 * @module
 */
import { MAX_TIMER_MS, type Clock, type TimerHandle } from "../core/clock.js";

/** Maps with at most `limit` calls in flight, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The longest delay a Node timer holds: a longer one fires after 1 ms (with a `TimeoutOverflowWarning`). */
export { MAX_TIMER_MS } from "../core/clock.js";

/**
 * Waits until `deadline` on `clock` (at once when it passed); resolves true when `signal` aborted first.
 * A wait beyond {@link MAX_TIMER_MS} (a `refreshEveryMs` of 25 days or more) is armed in pieces a timer holds.
 */
export function sleepUntil(clock: Clock, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  if (deadline - clock.now() <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    let timer: TimerHandle | undefined;
    const onAbort = (): void => {
      if (timer !== undefined) clock.clearTimeout(timer);
      resolve(true);
    };
    const arm = (): void => {
      const delay = deadline - clock.now();
      if (delay <= 0) {
        timer = undefined;
        signal?.removeEventListener("abort", onAbort);
        resolve(false);
        return;
      }
      timer = clock.setTimeout(arm, Math.min(delay, MAX_TIMER_MS));
    };
    arm();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
