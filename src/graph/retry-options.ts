/**
 * Retry options: what a node (or a run) may say about its attempts, and the
 * checks of those options. They live in the graph layer because a node's
 * options are part of its definition; the engine's retry policy
 * (`resolveRetryPolicy`) reads them and decides the defaults.
 *
 * The validators check keys (with a did-you-mean hint) and values, and
 * throw {@link InvalidOptionError}; they never read a clock or a run.
 *
 * @module
 */
import { MAX_TIMER_MS } from "../core/clock.js";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { valueText } from "../core/text.js";
import { InvalidOptionError } from "../errors.js";

/** Exponential backoff between attempts. */
export interface BackoffOptions {
  /** Delay before the second attempt (ms). @default 100 */
  readonly initialMs?: number;
  /** Multiplier per further attempt. @default 2 */
  readonly factor?: number;
  /** Cap on any one delay (ms). @default 30_000 */
  readonly maxMs?: number;
  /** Spread delays randomly over the upper half of the nominal delay. @default true */
  readonly jitter?: boolean;
}

/**
 * Retry options, per run (`retry`) or per node (`retry`).
 *
 * @example
 * ```ts
 * { maxAttempts: 5, backoff: { initialMs: 200, factor: 2, maxMs: 10_000, jitter: true },
 *   retryOn: (err) => !(err instanceof TypeError), timeoutMs: 30_000 }
 * ```
 */
export interface RetryOptions {
  /** Attempts in all, the first included. @default 3 (run level) */
  readonly maxAttempts?: number;
  /** Backoff between attempts. */
  readonly backoff?: BackoffOptions;
  /** Return false to stop retrying after this error (`attempt` is the attempt that failed, from 1). */
  readonly retryOn?: (error: unknown, attempt: number) => boolean;
  /** Per-attempt time limit (ms): the attempt's signal is aborted and the attempt fails. */
  readonly timeoutMs?: number;
}

/** The keys of {@link RetryOptions}. */
export const RETRY_OPTION_KEYS = optionKeys<RetryOptions>({ maxAttempts: true, backoff: true, retryOn: true, timeoutMs: true });
/** The keys of {@link BackoffOptions}. */
export const BACKOFF_OPTION_KEYS = optionKeys<BackoffOptions>({ initialMs: true, factor: true, maxMs: true, jitter: true });

/**
 * Throws {@link InvalidOptionError} when retry options (or their
 * `backoff`) have a key that is not a retry (or backoff) option; values
 * are not checked. `where` names them in the message.
 */
export function assertRetryKeys(options: unknown, where: string): void {
  if (options === null || typeof options !== "object") return;
  assertKnownKeys(where, options, RETRY_OPTION_KEYS);
  const backoff = (options as RetryOptions).backoff;
  if (backoff !== null && typeof backoff === "object") assertKnownKeys(`${where}.backoff`, backoff, BACKOFF_OPTION_KEYS);
}

/** Throws {@link InvalidOptionError} unless `options` are valid (known keys, sound values); `where` names them in the message. */
export function validateRetryOptions(options: unknown, where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object") throw new InvalidOptionError(where, "must be an object");
  assertRetryKeys(options, where);
  const o = options as RetryOptions;
  if (o.maxAttempts !== undefined && !(Number.isInteger(o.maxAttempts) && o.maxAttempts >= 1)) {
    throw new InvalidOptionError(`${where}.maxAttempts`, `must be a whole number of at least 1 (got ${String(o.maxAttempts)})`);
  }
  if (o.retryOn !== undefined && typeof o.retryOn !== "function") {
    throw new InvalidOptionError(`${where}.retryOn`, "must be a function (error, attempt) => boolean");
  }
  validateDuration(o.timeoutMs, `${where}.timeoutMs`, false, MAX_TIMER_MS);
  if (o.backoff !== undefined) {
    if (o.backoff === null || typeof o.backoff !== "object") throw new InvalidOptionError(`${where}.backoff`, "must be an object");
    validateDuration(o.backoff.initialMs, `${where}.backoff.initialMs`, true);
    validateDuration(o.backoff.maxMs, `${where}.backoff.maxMs`, true);
    const f = o.backoff.factor;
    if (f !== undefined && !(typeof f === "number" && Number.isFinite(f) && f >= 1)) {
      throw new InvalidOptionError(`${where}.backoff.factor`, `must be a finite number of at least 1 (got ${String(f)})`);
    }
    const j = o.backoff.jitter;
    if (j !== undefined && typeof j !== "boolean") throw new InvalidOptionError(`${where}.backoff.jitter`, "must be true or false");
  }
}

// The longest delay one timer holds (`core/clock.ts`): a time limit armed as one timer (a node's `timeoutMs`) must
// not exceed it, since a clock may be a bare Node timer. A longer retry backoff is slept in pieces (`engine/retry-sleeps.ts`).
export { MAX_TIMER_MS } from "../core/clock.js";

/**
 * Throws unless `ms` is undefined or a finite duration (zero allowed when
 * `zeroOk`), and at most `max` ms when given (a limit armed as one timer:
 * {@link MAX_TIMER_MS}).
 */
export function validateDuration(ms: unknown, name: string, zeroOk: boolean, max?: number): void {
  if (ms === undefined) return;
  const ok = typeof ms === "number" && Number.isFinite(ms) && (zeroOk ? ms >= 0 : ms > 0);
  if (!ok) throw new InvalidOptionError(name, `must be a finite number of milliseconds ${zeroOk ? "of at least 0" : "above 0"} (got ${valueText(ms)})`);
  if (max !== undefined && ms > max) {
    throw new InvalidOptionError(name, `must be at most ${max} ms (about ${(max / 86_400_000).toFixed(1)} days, the longest one timer holds; got ${ms})`);
  }
}
