/**
 * The events of a `StageRunner` (`runner.events`), typed, with
 * `namespace:verb` names. As with run events, a listener that throws is
 * reported and never stops the runner.
 *
 * @module
 */
import { EventEmitter } from "eventemitter3";
import { callStored, storedListeners, type StoredListener } from "../events/stored-listeners.js";
import type { TaskReport } from "./task-report.js";

/** Every stage runner event and its payload; each carries the runner run id and a timestamp. */
export interface StageEventMap {
  /** A sweep begins: the source was read. */
  "sweep:start": { readonly runId: string; readonly at: number; readonly sweep: number; readonly tasks: number; readonly runnable: number };
  /**
   * A stage chose a pathway for a task: its work there is done and saved. The task then enters the
   * target, unless that visit is beyond the target's `maxVisits` (the task then fails with `LoopLimitExceeded`).
   * Emitted once the move is saved: a task's moves of a sweep come together, in order, when its processing ends.
   */
  "task:move": {
    readonly runId: string;
    readonly at: number;
    readonly taskId: string;
    readonly from: string;
    readonly to: string;
    readonly pathway: string;
    readonly visit: number;
  };
  /** A task's processing in this sweep ended (it completed, waits, stays, or failed). */
  "task:end": { readonly runId: string; readonly at: number; readonly task: TaskReport };
  /** A batch of moves was written to the task source. */
  "batch:written": { readonly runId: string; readonly at: number; readonly moves: number };
  /** A sweep ended. */
  "sweep:end": { readonly runId: string; readonly at: number; readonly sweep: number; readonly processed: number };
  /** Something went wrong that did not stop the runner (a provider's dispose threw, the source could not be written). */
  warning: { readonly runId: string; readonly at: number; readonly taskId?: string; readonly message: string; readonly error?: unknown };
}

/** The name of a stage runner event. */
export type StageEventName = keyof StageEventMap;

/** The argument lists of each event, as eventemitter3 types them. */
export type StageEmitterEvents = { [K in StageEventName]: [StageEventMap[K]] };

/**
 * The stage runner's event emitter.
 *
 * @example
 * ```ts
 * runner.events.on("task:move", (e) => console.log(e.taskId, e.from, "→", e.to));
 * ```
 */
export class StageEvents extends EventEmitter<StageEmitterEvents> {
  /**
   * Emits to every listener as eventemitter3 does (a `once` listener is
   * removed before it is called, a listener added with a context is called
   * with it as `this`); a listener that throws is logged and the others
   * still run.
   */
  override emit<K extends StageEventName>(event: K, ...args: EventEmitter.ArgumentMap<StageEmitterEvents>[Extract<K, StageEventName>]): boolean {
    // Most runners listen to few events: no copy of a listener list per task.
    const stored = storedListeners(this as unknown as EventEmitter, event);
    if (stored === undefined) return false;
    if (!Array.isArray(stored)) this.#call(event, stored, args[0]);
    else {
      const n = stored.length;
      for (let i = 0; i < n; i++) this.#call(event, stored[i]!, args[0]);
    }
    return true;
  }

  #call(event: StageEventName, listener: StoredListener, payload: unknown): void {
    try {
      callStored(this as unknown as EventEmitter, event, listener, payload);
    } catch (error) {
      console.error(`taskloom: a listener for "${event}" threw; the runner goes on.`, error);
    }
  }
}
