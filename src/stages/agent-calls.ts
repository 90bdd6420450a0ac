/**
 * The agent calls of one task's processing, gated by the runner's abort
 * signal: every call takes a slot of the runner-wide {@link AgentSlots}
 * (so `maxConcurrency` bounds agent calls across tasks), a call still
 * waiting for its slot when the signal aborts never starts (it rejects
 * with `RunCancelledError`), and the task's processing waits for every
 * call it started before it disposes the task's providers and reports.
 *
 * The slots are the engine's {@link SlotQueue} (first in, first out; a
 * freed slot starts the next call in a microtask), not a p-queue: a
 * p-queue `add` makes an options object, an id string, a symbol, a map
 * entry and several promises per call, more than a no-op agent costs.
 *
 * Invariants: after the signal aborts, no agent function is entered;
 * {@link AgentCalls.ended} resolves only once every started call has
 * ended, or (after the abort) has ignored its aborted signal for
 * `abandonAfterMs`, when it is abandoned and named to `onAbandon`; a
 * call holds its slot until it ends (an abandoned one too).
 *
 * @module
 */
import type { Clock, TimerHandle } from "../core/clock.js";
import { RunCancelledError } from "../engine/errors.js";
import { SlotQueue } from "../engine/slot-queue.js";

/** How long, after the runner's signal aborted, a started agent call may take to end before it is abandoned. */
export const ABANDON_AFTER_MS = 5_000;

/** The agent call slots of one runner call: at most `concurrency` calls run at once, in the order they asked. */
export class AgentSlots {
  readonly #queue: SlotQueue<() => void>;

  constructor(concurrency: number) {
    this.#queue = new SlotQueue<() => void>(concurrency, (start) => start());
  }

  /** Runs `start` once a slot is free (at once when one is); it must call {@link AgentSlots.release} once. */
  take(start: () => void): void {
    this.#queue.add(start);
  }

  /** Gives a slot back. */
  release(): void {
    this.#queue.release();
  }
}

/** The agent calls of one task, run in the runner's slots. */
export class AgentCalls {
  readonly #slots: AgentSlots;
  readonly #signal: AbortSignal | undefined;
  readonly #graphRunId: string;
  #started = 0;
  #running = 0;
  /** Called once no call runs, for {@link AgentCalls.ended}. */
  #idle: (() => void) | undefined;

  constructor(slots: AgentSlots, signal: AbortSignal | undefined, graphRunId: string) {
    this.#slots = slots;
    this.#signal = signal;
    this.#graphRunId = graphRunId;
  }

  /** Runs `call` when a slot is free, unless the signal aborted by then. */
  run<T>(call: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#slots.take(() => {
        if (this.#signal?.aborted) {
          this.#slots.release();
          reject(new RunCancelledError(this.#graphRunId, "the runner's signal was aborted before the agent call started"));
          return;
        }
        this.#started++;
        this.#running++;
        let running: Promise<T>;
        try {
          running = call();
        } catch (error) {
          running = Promise.reject(error);
        }
        running.then(
          (value) => {
            this.#ended();
            resolve(value);
          },
          (error: unknown) => {
            this.#ended();
            reject(error);
          },
        );
      });
    });
  }

  /** Calls started so far. */
  get started(): number {
    return this.#started;
  }

  /** Calls started and not ended yet. */
  get running(): number {
    return this.#running;
  }

  /**
   * Resolves once every started call has ended; after the signal aborted,
   * a call still running `abandonAfterMs` later is abandoned (`onAbandon`).
   */
  async ended(clock: Clock, abandonAfterMs: number, onAbandon: (calls: number) => void): Promise<void> {
    while (this.#running > 0) {
      const all = this.#whenIdle().then(() => "ended" as const);
      if (!this.#signal?.aborted) {
        await untilAborted(all, this.#signal);
        continue;
      }
      let timer: TimerHandle | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = clock.setTimeout(() => resolve("late"), abandonAfterMs);
      });
      const outcome = await Promise.race([all, late]);
      if (timer !== undefined) clock.clearTimeout(timer);
      if (outcome === "late") {
        onAbandon(this.#running);
        return;
      }
    }
  }

  /** A call ended: its slot goes to the next, and whoever waits for no call to run is told when none does. */
  #ended(): void {
    this.#slots.release();
    this.#running--;
    if (this.#running > 0 || this.#idle === undefined) return;
    const idle = this.#idle;
    this.#idle = undefined;
    idle();
  }

  /** Resolves once no call runs. */
  #whenIdle(): Promise<void> {
    if (this.#running === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const before = this.#idle;
      this.#idle =
        before === undefined
          ? resolve
          : () => {
              before();
              resolve();
            };
    });
  }
}

/** Waits for `done`, or for `signal` to abort first; leaves no listener behind. */
async function untilAborted(done: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) {
    await done;
    return;
  }
  let onAbort: (() => void) | undefined;
  const abort = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    await Promise.race([done, abort]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}
