/**
 * The typed events of a run, on eventemitter3. Every payload carries the
 * `runId` and a timestamp `at` (epoch ms). Emitting never throws into the
 * run: a listener that throws, or returns a promise that rejects, is
 * reported to the `onListenerError` hook (by default `console.error`) and
 * the other listeners still run. When nobody listens, emitting costs one
 * map lookup and no payload is built.
 *
 * Emitting follows eventemitter3's rules otherwise: a `once` listener is
 * removed before it is called, a listener added with a context is called
 * with it. Two internal controls serve the session that drives the run:
 * events can be held for a moment ({@link holdEvents}: the run's first
 * write happens before `run:start` but its `snapshot` event comes after),
 * and once the run's end is emitted ({@link endEvents}) node events are
 * dropped, so `run:start` is first, the end is last, and nothing about a
 * node comes after it (a body that ignored its abort and calls `ctx.emit`).
 *
 * @module
 */
import { EventEmitter } from "eventemitter3";
import { callStored, storedListeners, type StoredListener } from "./stored-listeners.js";
import type { PendingWait } from "../state/waits.js";
import type { RunStatus } from "../state/status.js";

/** Fields every event payload has. */
export interface EventBase {
  /** The run. */
  readonly runId: string;
  /** When it happened (epoch ms, from the run's clock). */
  readonly at: number;
}

/**
 * Fields of events about one node activation.
 *
 * Transition (see CHANGELOG.md): `nodeId` still holds the activation id
 * in this release: the graph node for a first visit, `n#2` for a later
 * visit of a routed graph, `m[7]` for an element of map node `m`. An
 * event about such a visit or element also carries `activationId`,
 * `graphNodeId` and `visit` or `index`; read those, since `nodeId` will
 * name the graph node in a later release.
 */
export interface NodeEventBase extends EventBase {
  /** The activation id (in a later release: the graph node; use `activationId` for the activation). */
  readonly nodeId: string;
  /** The activation id (`n#2`, `m[7]`); set when the activation is not its graph node itself. */
  readonly activationId?: string;
  /** The graph node the activation runs; set with `activationId`. */
  readonly graphNodeId?: string;
  /** The visit number of a routed graph's later visit (2, 3, …). */
  readonly visit?: number;
  /** The element index of a map node's element. */
  readonly index?: number;
}

/** The payload of every event, by event name. */
export interface RunEventMap {
  /** The run started (or resumed: `resumed` is true and `kept` counts nodes kept from before). */
  "run:start": EventBase & { readonly graphName: string; readonly resumed: boolean; readonly kept: number };
  /** An attempt of a node started. */
  "node:start": NodeEventBase & { readonly attempt: number };
  /** An attempt failed and another will start after `delayMs`. */
  "node:retry": NodeEventBase & { readonly attempt: number; readonly delayMs: number; readonly error: unknown };
  /** A node succeeded. */
  "node:success": NodeEventBase & {
    readonly attempt: number;
    readonly output: unknown;
    readonly durationMs: number;
    /** The route a routing node chose. */
    readonly route?: string;
  };
  /** A node failed for good (no attempts left, or the error is not retryable). */
  "node:error": NodeEventBase & { readonly attempt: number; readonly error: unknown };
  /** A node will not run: routing did not choose it, or everything before it was skipped. */
  "node:skip": NodeEventBase;
  /** A node is waiting for an external event. */
  "node:wait": NodeEventBase & { readonly key: string; readonly deadline?: number };
  /** A node called `ctx.emit(name, data)`. */
  "node:event": NodeEventBase & { readonly name: string; readonly data: unknown };
  /** Something went wrong that did not stop the run (a node output that cannot be stored, say). */
  warning: EventBase & { readonly nodeId?: string; readonly code: string; readonly message: string };
  /** Only waits are left: the run was saved as `waiting`. */
  "run:waiting": EventBase & { readonly waits: readonly PendingWait[] };
  /** The run succeeded. */
  "run:success": EventBase & { readonly outputs: unknown; readonly durationMs: number };
  /** The run failed. */
  "run:error": EventBase & { readonly error: unknown };
  /** The run was cancelled. */
  "run:cancel": EventBase & { readonly reason: string };
  /** A write of the run's state reached the store. */
  snapshot: EventBase & { readonly status: RunStatus; readonly records: number; readonly full: boolean };
}

/** The name of a run event. */
export type RunEventName = keyof RunEventMap;

/** A listener for one event. */
export type RunEventListener<K extends RunEventName> = (payload: RunEventMap[K]) => unknown;

/** Called when a listener throws. */
export type ListenerErrorHandler = (error: unknown, event: RunEventName) => void;

const defaultListenerErrorHandler: ListenerErrorHandler = (error, event) => {
  console.error(`taskloom: a listener for "${event}" threw; the run goes on.`, error);
};

/** The argument lists of each event, as eventemitter3 types them. */
export type EmitterEvents = { [K in RunEventName]: [RunEventMap[K]] };

/** Events emitted while a run's events are held ({@link holdEvents}), in order. */
type Held = [RunEventName, unknown][];

let setHeld: (events: RunEvents, held: Held | undefined) => void;
let setEnded: (events: RunEvents) => void;
let emittingOf: (events: RunEvents) => boolean;

/**
 * The event emitter of a run (`handle.events`).
 *
 * @example
 * ```ts
 * handle.events.on("node:success", (e) => console.log(e.nodeId, e.durationMs));
 * ```
 */
export class RunEvents extends EventEmitter<EmitterEvents> {
  #onListenerError: ListenerErrorHandler;
  /** Events emitted while held, to emit when released (the session holds the start write's events until `run:start`). */
  #held: Held | undefined = undefined;
  /** Set once the session emits the run's end: a node event after it (a body that ignored its abort) is dropped. */
  #ended = false;
  /** Emits in progress (a listener may emit): a listener's `cancel()` runs once the engine's step that emitted is over. */
  #emitting = 0;

  constructor(onListenerError: ListenerErrorHandler = defaultListenerErrorHandler) {
    super();
    this.#onListenerError = onListenerError;
  }

  /** True when at least one listener listens for `event`; lets callers skip building a payload. */
  has(event: RunEventName): boolean {
    return this.listenerCount(event) > 0;
  }

  /**
   * Emits `event` to every listener, as eventemitter3 does (a `once`
   * listener is removed before it is called, a listener added with a
   * context is called with it as `this`); a listener that throws (or
   * rejects) is reported and does not stop the others or the run.
   */
  override emit<K extends RunEventName>(event: K, ...args: EventEmitter.ArgumentMap<EmitterEvents>[Extract<K, RunEventName>]): boolean {
    const payload = args[0] as RunEventMap[K];
    if (this.#held !== undefined) {
      this.#held.push([event, payload]);
      return true;
    }
    if (this.#ended && event.startsWith("node:")) return false;
    // eventemitter3's own store of listeners (`listeners()` returns bare functions: no `once`, no context).
    const stored = storedListeners(this as unknown as EventEmitter, event);
    if (stored === undefined) return false;
    // No `finally`: `#call` never throws (what a listener throws is reported there).
    this.#emitting += 1;
    if (!Array.isArray(stored)) this.#call(event, stored, payload);
    else {
      // As eventemitter3 does: a removal replaces the array (a `once` listener removes itself), and a listener added
      // meanwhile is pushed past `n`, so the listeners are those of when the event was emitted, without a copy.
      const n = stored.length;
      for (let i = 0; i < n; i++) this.#call(event, stored[i]!, payload);
    }
    this.#emitting -= 1;
    return true;
  }

  #call(event: RunEventName, listener: StoredListener, payload: unknown): void {
    try {
      const result = callStored(this as unknown as EventEmitter, event, listener, payload);
      if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
        (result as PromiseLike<unknown>).then(undefined, (err) => this.#report(err, event));
      }
    } catch (err) {
      this.#report(err, event);
    }
  }

  #report(error: unknown, event: RunEventName): void {
    try {
      this.#onListenerError(error, event);
    } catch {
      // The error handler itself threw: nothing sensible is left to do, and the run must go on.
    }
  }

  static {
    setHeld = (events, held) => (events.#held = held);
    setEnded = (events) => (events.#ended = true);
    emittingOf = (events) => events.#emitting > 0;
  }
}

/**
 * Holds every event of `events` until the returned function is called,
 * which calls `first` (an emit) and then emits the held events in order
 * (internal: the session holds the events of the run's first write, which
 * the store must hold before `run:start`, so that `run:start` is still the
 * run's first event).
 */
export function holdEvents(events: RunEvents): (first?: () => void) => void {
  const held: Held = [];
  setHeld(events, held);
  return (first) => {
    setHeld(events, undefined);
    first?.();
    for (const [event, payload] of held) events.emit(event, payload as never);
  };
}

/**
 * True while `events` calls its listeners (internal: a run's cancel from a
 * listener waits until the engine's step that emitted the event is over).
 */
export function isEmitting(events: RunEvents): boolean {
  return emittingOf(events);
}

/** From now on node events of `events` are dropped (internal: the session calls it as the run's end is emitted). */
export function endEvents(events: RunEvents): void {
  setEnded(events);
}
