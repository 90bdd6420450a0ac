/**
 * Retry sleeps: an attempt that failed and may be retried sleeps outside
 * the queue (it holds no concurrency slot) for its backoff delay, then is
 * queued again.
 *
 * Invariants:
 * - A sleeping activation is still outstanding for the run loop.
 * - When the run stops, every sleep is woken at once and its activation
 *   ends as cancelled; a sleep that ends while the run is stopping does too.
 * - A delay longer than one timer holds ({@link MAX_TIMER_MS}: Node fires
 *   a longer `setTimeout` after 1 ms) is slept in pieces.
 * - No delay that is not a number is slept or recorded: a run's `random`
 *   that returns something outside [0, 1] fails the node for good with
 *   the `InvalidOptionError` naming it (its `NaN` retry time made the
 *   stored run unreadable, and a `ManualClock` never fired its timer).
 *
 * @module
 */
import { sleep, type Clock } from "../core/clock.js";
import { MAX_TIMER_MS } from "../graph/retry-options.js";
import type { RunEvents } from "../events/run-events.js";
import { NonRetryableError } from "../graph/errors.js";
import { toErrorRecord } from "../state/error-record.js";
import { markRetrying } from "../state/node-transitions.js";
import type { ActivationNames } from "./activation-names.js";
import type { RecordBuffer } from "./record-buffer.js";
import { backoffDelay, type RetryPolicy } from "./retry-policy.js";
import type { AttemptResult, Stop } from "./loop-types.js";

/** What retry sleeps need from the run loop. */
export interface SleepHost {
  readonly stopping: Stop | undefined;
  settle(id: string, result: AttemptResult): Promise<void>;
}

/** What retry sleeps work with. */
export interface RetrySleepsEnv {
  readonly runId: string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly events: RunEvents;
  readonly names: ActivationNames;
  readonly buffer: RecordBuffer;
  readonly host: SleepHost;
  /** Queues the next attempt. */
  readonly enqueue: (id: string) => void;
}

/** The activations sleeping before a retry. */
export class RetrySleeps {
  readonly #sleeping = new Map<string, AbortController>();

  readonly #env: RetrySleepsEnv;

  constructor(env: RetrySleepsEnv) {
    this.#env = env;
  }

  /** Records the failed attempt as retrying and queues the next one after the policy's delay. */
  schedule(id: string, error: unknown, attempt: number, policy: RetryPolicy): void {
    const { clock, host } = this.#env;
    let delayMs: number;
    try {
      delayMs = backoffDelay(policy, attempt, this.#env.random);
    } catch (invalid) {
      // Settled again after this settle returns, as an error no policy retries: the node fails, never waits forever.
      const error = new NonRetryableError(`node "${id}" was not retried: ${(invalid as Error).message.replace(/\.$/, "")}`, { cause: invalid });
      queueMicrotask(() => void host.settle(id, { kind: "error", error, attempt }));
      return;
    }
    const now = clock.now();
    this.#env.buffer.transition(markRetrying(toErrorRecord(error), now + delayMs, now), id);
    this.#env.events.emit("node:retry", this.#env.names.tag(id, { runId: this.#env.runId, at: now, nodeId: id, attempt, delayMs, error }));
    const controller = new AbortController();
    this.#sleeping.set(id, controller);
    sleepLong(clock, delayMs, controller.signal).then(
      () => {
        this.#sleeping.delete(id);
        if (host.stopping) void host.settle(id, { kind: "cancelled" });
        else this.#env.enqueue(id);
      },
      () => {
        this.#sleeping.delete(id);
        void host.settle(id, { kind: "cancelled" });
      },
    );
  }

  /** Wakes every sleep (the run stops): each activation then ends as cancelled. */
  wakeAll(reason: unknown): void {
    for (const controller of this.#sleeping.values()) controller.abort(reason);
  }
}

/** {@link sleep} of any length: a delay longer than one timer holds is slept in pieces of at most {@link MAX_TIMER_MS}. */
function sleepLong(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return ms <= MAX_TIMER_MS ? sleep(clock, ms, signal) : sleepPieces(clock, ms, signal);
}

async function sleepPieces(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  let left = ms;
  while (left > MAX_TIMER_MS) {
    await sleep(clock, MAX_TIMER_MS, signal);
    left -= MAX_TIMER_MS;
  }
  await sleep(clock, left, signal);
}
