/**
 * The agent calls of one task's processing, gated by the runner's abort
 * signal: every call goes through the runner-wide p-queue (so
 * `maxConcurrency` bounds agent calls across tasks), a call still queued
 * when the signal aborts never starts (it rejects with
 * `RunCancelledError`), and the task's processing waits for every call
 * it started before it disposes the task's providers and reports.
 *
 * Invariants: after the signal aborts, no agent function is entered;
 * {@link AgentCalls.ended} resolves only once every started call has
 * ended, or (after the abort) has ignored its aborted signal for
 * `abandonAfterMs`, when it is abandoned and named to `onAbandon`.
 *
 * @module
 */
import type PQueue from "p-queue";
import type { Clock, TimerHandle } from "../core/clock.js";
import { RunCancelledError } from "../engine/errors.js";

/** How long, after the runner's signal aborted, a started agent call may take to end before it is abandoned. */
export const ABANDON_AFTER_MS = 5_000;

/** The agent calls of one task, run through a shared queue. */
export class AgentCalls {
  readonly #queue: PQueue;
  readonly #signal: AbortSignal | undefined;
  readonly #graphRunId: string;
  readonly #running = new Set<Promise<unknown>>();
  #started = 0;

  constructor(queue: PQueue, signal: AbortSignal | undefined, graphRunId: string) {
    this.#queue = queue;
    this.#signal = signal;
    this.#graphRunId = graphRunId;
  }

  /** Runs `call` when the queue has a slot, unless the signal aborted by then. */
  run<T>(call: () => Promise<T>): Promise<T> {
    return this.#queue.add(() => {
      if (this.#signal?.aborted) {
        return Promise.reject(new RunCancelledError(this.#graphRunId, "the runner's signal was aborted before the agent call started"));
      }
      this.#started++;
      const running = call();
      const tracked = running.then(
        () => undefined,
        () => undefined,
      );
      this.#running.add(tracked);
      void tracked.then(() => this.#running.delete(tracked));
      return running;
    });
  }

  /** Calls started so far. */
  get started(): number {
    return this.#started;
  }

  /** Calls started and not ended yet. */
  get running(): number {
    return this.#running.size;
  }

  /**
   * Resolves once every started call has ended; after the signal aborted,
   * a call still running `abandonAfterMs` later is abandoned (`onAbandon`).
   */
  async ended(clock: Clock, abandonAfterMs: number, onAbandon: (calls: number) => void): Promise<void> {
    while (this.#running.size > 0) {
      const all = Promise.all([...this.#running]).then(() => "ended" as const);
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
        onAbandon(this.#running.size);
        return;
      }
    }
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
