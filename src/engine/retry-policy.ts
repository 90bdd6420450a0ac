/**
 * `RetryPolicy`: how many attempts a node gets and how long to wait
 * between them. A node's policy is its own `retry` option laid field by
 * field over the run's `retry` option over the defaults
 * ({@link DEFAULT_RETRY}). Retryability is decided by class
 * ({@link NonRetryableError}) or by the `retryOn` predicate, never by
 * message text.
 *
 * Backoff before attempt `n + 1` is `min(maxMs, initialMs * factor^(n-1))`;
 * with `jitter` it is drawn uniformly from the upper half of that
 * ("equal jitter"), so retries spread out but never come sooner than half
 * the nominal delay.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { UnknownRouteError } from "../engine/errors.js";
import { NonRetryableError } from "../graph/errors.js";

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

/** A policy with every field decided. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly backoff: Required<BackoffOptions>;
  readonly retryOn?: (error: unknown, attempt: number) => boolean;
  readonly timeoutMs?: number;
}

/** The defaults under every run's and node's options. */
export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 3,
  backoff: { initialMs: 100, factor: 2, maxMs: 30_000, jitter: true },
};

/** Lays node options over run options over the defaults. */
export function resolveRetryPolicy(run?: RetryOptions, node?: RetryOptions, nodeTimeoutMs?: number): RetryPolicy {
  const retryOn = node?.retryOn ?? run?.retryOn;
  const timeoutMs = nodeTimeoutMs ?? node?.timeoutMs ?? run?.timeoutMs;
  return {
    maxAttempts: node?.maxAttempts ?? run?.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
    backoff: { ...DEFAULT_RETRY.backoff, ...stripUndefined(run?.backoff), ...stripUndefined(node?.backoff) },
    ...(retryOn && { retryOn }),
    ...(timeoutMs !== undefined && { timeoutMs }),
  };
}

function stripUndefined<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** True when another attempt should follow the failed attempt `attempt` (from 1). */
export function shouldRetry(policy: RetryPolicy, error: unknown, attempt: number): boolean {
  if (attempt >= policy.maxAttempts) return false;
  if (error instanceof NonRetryableError || error instanceof UnknownRouteError) return false;
  if (policy.retryOn && !policy.retryOn(error, attempt)) return false;
  return true;
}

/** The delay (ms) after failed attempt `attempt` (from 1); `random` returns [0, 1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const { initialMs, factor, maxMs, jitter } = policy.backoff;
  const nominal = Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  if (!jitter) return nominal;
  return Math.round(nominal / 2 + random() * (nominal / 2));
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
  validateDuration(o.timeoutMs, `${where}.timeoutMs`, false);
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

/** Throws unless `ms` is undefined or a finite duration (zero allowed when `zeroOk`). */
export function validateDuration(ms: unknown, name: string, zeroOk: boolean): void {
  if (ms === undefined) return;
  const ok = typeof ms === "number" && Number.isFinite(ms) && (zeroOk ? ms >= 0 : ms > 0);
  if (!ok) throw new InvalidOptionError(name, `must be a finite number of milliseconds ${zeroOk ? "of at least 0" : "above 0"} (got ${String(ms)})`);
}
