/**
 * The listeners of an eventemitter3 emitter as it keeps them: each with
 * its function, its `this` and whether it was added with `once`. The run's
 * and the stage runner's emitters call their listeners themselves (a
 * listener that throws must not stop the others), and `listeners()` gives
 * bare functions only: calling those fired a `once` listener at every
 * event and lost a listener's context. These two functions call each
 * listener as eventemitter3's own `emit` would.
 *
 * @module
 */
import { EventEmitter } from "eventemitter3";

/** One listener as eventemitter3 keeps it. */
export interface StoredListener {
  readonly fn: (payload: unknown) => unknown;
  readonly context: unknown;
  readonly once: boolean;
}

/** The prefix of eventemitter3's keys of its listeners by event ("" in every engine with `Object.create`). */
const PREFIX = typeof EventEmitter.prefixed === "string" ? EventEmitter.prefixed : "";

/**
 * The listeners of `event`: one, an array of them, or undefined. Loop over
 * an array up to its length when called, as eventemitter3 does: a removal
 * replaces the array, and a listener added meanwhile is pushed past it.
 */
export function storedListeners(emitter: EventEmitter, event: string): StoredListener | StoredListener[] | undefined {
  return (emitter as unknown as { _events: Record<string, StoredListener | StoredListener[] | undefined> })._events[PREFIX === "" ? event : PREFIX + event];
}

/** Calls `listener` with `payload` as eventemitter3 would: a `once` listener is removed first, and `this` is its context. */
export function callStored(emitter: EventEmitter, event: string, listener: StoredListener, payload: unknown): unknown {
  if (listener.once) emitter.removeListener(event, listener.fn, undefined, true);
  return listener.fn.call(listener.context, payload);
}
