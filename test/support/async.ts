/**
 * Small async helpers shared by the tests: promises resolved by hand
 * (gates), waiting for an event, and letting the event loop turn until a
 * condition holds. None of them uses timers, so tests stay independent of
 * the machine's speed (`until` bounds its wait by real time as well as by
 * turns, for the same reason).
 */
import type { RunEventMap, RunEventName, RunHandle } from "../../src/index.js";

/** A promise with its resolve and reject functions. */
export interface Deferred<T = void> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** A promise the test settles by hand. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves with the next `name` event (matching `where`) of `handle`. */
export function nextEvent<K extends RunEventName>(
  handle: RunHandle<unknown>,
  name: K,
  where: (payload: RunEventMap[K]) => boolean = () => true,
): Promise<RunEventMap[K]> {
  return new Promise((resolve) => {
    const listener = (payload: RunEventMap[K]): void => {
      if (!where(payload)) return;
      handle.events.off(name, listener as never);
      resolve(payload);
    };
    handle.events.on(name, listener as never);
  });
}

/**
 * Lets the event loop turn until `condition` (which may read a file or a
 * store, asynchronously) holds (no timers involved). It
 * gives up only after `turns` turns *and* `patienceMs` of real time: a turn
 * count alone fails on a loaded machine, where a file read in the thread
 * pool can outlast thousands of idle turns.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, turns = 5_000, patienceMs = 10_000): Promise<void> {
  const started = process.hrtime.bigint();
  const patienceNs = BigInt(patienceMs) * 1_000_000n;
  for (let i = 0; ; i++) {
    if (await condition()) return;
    if (i >= turns && process.hrtime.bigint() - started >= patienceNs) break;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Lets the event loop turn `n` times (to show that something does not happen meanwhile). */
export async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Unhandled rejections seen while `body` runs and a few turns of the event loop after. */
export async function unhandledDuring(body: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => void seen.push(reason);
  process.on("unhandledRejection", listener);
  try {
    await body();
    // A rejection is reported once the microtasks of its turn ran: let a few turns pass.
    await turns(5);
  } finally {
    process.off("unhandledRejection", listener);
  }
  return seen;
}

/** Awaits `promise` and returns what it rejected with (fails the test if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject, but it resolved");
}
