/**
 * The pacing of a stage runner's sweeps: reading many stored runs with a
 * bounded number in flight, and waiting on the injected clock for the
 * next sweep (`refreshEveryMs`) unless the run's signal aborts first.
 *
 * Invariants: results keep the order of their items; a wait never
 * outlives its abort (the timer is cleared), and an abort never leaves a
 * listener behind once the timer fired.
 *
 * @module
 */
import type { Clock } from "../core/clock.js";

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

/** Waits until `deadline` on `clock` (at once when it passed); resolves true when `signal` aborted first. */
export function sleepUntil(clock: Clock, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  const delay = deadline - clock.now();
  if (delay <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      resolve(true);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(false);
    }, delay);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
