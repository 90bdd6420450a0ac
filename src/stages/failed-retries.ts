/**
 * When a stage runner tries a failed task again: at the first sweep of
 * each `runAsync` call (with fresh attempts, as after a restart), and then,
 * with `refreshEveryMs`, at later sweeps with a backoff: after the k-th
 * failure in the call the task waits `min(initialMs * factor^(k-1), maxMs)`
 * from the start of the sweep it failed in, and after `maxRetries`
 * such retries it is left failed until the next `runAsync` call. Until it
 * succeeds, the task is reported failed, with its last error.
 *
 * Invariants: a task that succeeds (or leaves the failed state by any
 * other way) starts over; the delay never exceeds `maxMs`; the state is
 * per `runAsync` call (a restart retries every failed task once).
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { valueText } from "../core/text.js";
import { InvalidOptionError } from "../errors.js";

/**
 * How later sweeps of one `runAsync` call retry failed tasks.
 *
 * @example
 * ```ts
 * await runner.runAsync({ tasks, refreshEveryMs: 60_000, retryFailed: { initialMs: 60_000, factor: 2, maxMs: 3_600_000, maxRetries: 10 }, signal });
 * ```
 */
export interface RetryFailedOptions {
  /** The wait after a task's first failure in the call. @default `refreshEveryMs` (the next sweep) */
  readonly initialMs?: number;
  /** Each further failure multiplies the wait by this. @default 2 */
  readonly factor?: number;
  /** The longest wait. @default 3_600_000 (one hour) */
  readonly maxMs?: number;
  /** Retries at later sweeps after the first failure in the call (0: none; Infinity: no cap). @default 10 */
  readonly maxRetries?: number;
}

/** {@link RetryFailedOptions} with their defaults. */
export interface RetryFailedPolicy {
  readonly initialMs: number;
  readonly factor: number;
  readonly maxMs: number;
  readonly maxRetries: number;
}

/**
 * The default cap on a task's retries at later sweeps of one call.
 *
 * @example
 * ```ts
 * await runner.runAsync({ tasks, refreshEveryMs: 60_000, retryFailed: { maxRetries: DEFAULT_MAX_SWEEP_RETRIES * 2 }, signal });
 * ```
 */
export const DEFAULT_MAX_SWEEP_RETRIES = 10;
/**
 * The default longest wait between retries of a failed task (one hour).
 *
 * @example
 * ```ts
 * await runner.runAsync({ tasks, refreshEveryMs: 60_000, retryFailed: { maxMs: DEFAULT_MAX_RETRY_WAIT_MS / 4 }, signal });
 * ```
 */
export const DEFAULT_MAX_RETRY_WAIT_MS = 3_600_000;

const KEYS = optionKeys<RetryFailedOptions>({ initialMs: true, factor: true, maxMs: true, maxRetries: true });

/** Checks `retryFailed` and applies its defaults (`initialMs` defaults to the refresh period). */
export function retryFailedPolicy(options: RetryFailedOptions | undefined, refreshEveryMs: number | undefined): RetryFailedPolicy {
  if (options !== undefined && (options === null || typeof options !== "object" || Array.isArray(options))) {
    throw new InvalidOptionError("retryFailed", "must be an object such as { maxRetries: 10 }");
  }
  const o = options ?? {};
  assertKnownKeys("retryFailed", o, KEYS);
  const check = (value: unknown, name: string, ok: (v: number) => boolean, what: string): void => {
    if (value !== undefined && !(typeof value === "number" && ok(value)))
      throw new InvalidOptionError(`retryFailed.${name}`, `must be ${what} (got ${valueText(value)})`);
  };
  check(o.initialMs, "initialMs", (v) => Number.isFinite(v) && v >= 0, "a finite number of milliseconds, at least 0");
  check(o.factor, "factor", (v) => Number.isFinite(v) && v >= 1, "a finite number of at least 1");
  check(o.maxMs, "maxMs", (v) => Number.isFinite(v) && v >= 0, "a finite number of milliseconds, at least 0");
  check(o.maxRetries, "maxRetries", (v) => v === Infinity || (Number.isInteger(v) && v >= 0), "a whole number of at least 0, or Infinity");
  return {
    initialMs: o.initialMs ?? refreshEveryMs ?? 0,
    factor: o.factor ?? 2,
    maxMs: o.maxMs ?? DEFAULT_MAX_RETRY_WAIT_MS,
    maxRetries: o.maxRetries ?? DEFAULT_MAX_SWEEP_RETRIES,
  };
}

/** The failures of one `runAsync` call, by task id. */
export class FailedRetries {
  readonly #policy: RetryFailedPolicy;
  readonly #tasks = new Map<string, { failures: number; retryAt: number }>();

  constructor(policy: RetryFailedPolicy) {
    this.#policy = policy;
  }

  /** Whether a failed task may be tried again in the sweep that started at `sweepStart`. */
  due(taskId: string, sweepStart: number): boolean {
    const t = this.#tasks.get(taskId);
    if (!t) return true;
    return t.failures <= this.#policy.maxRetries && sweepStart >= t.retryAt;
  }

  /** Records that the task failed in the sweep that started at `sweepStart`. */
  failed(taskId: string, sweepStart: number): void {
    const failures = (this.#tasks.get(taskId)?.failures ?? 0) + 1;
    const { initialMs, factor, maxMs } = this.#policy;
    // Zero waits stay zero: `0 × factor^k` is NaN once `factor^k` overflows (a task never retried again).
    const wait = initialMs === 0 ? 0 : Math.min(initialMs * factor ** (failures - 1), maxMs);
    this.#tasks.set(taskId, { failures, retryAt: sweepStart + wait });
  }

  /** Forgets a task that is no longer failed. */
  recovered(taskId: string): void {
    this.#tasks.delete(taskId);
  }
}
