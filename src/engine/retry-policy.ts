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
 * These functions are public (users who retry their own calls use them),
 * so each checks what it is given: options as `run()` checks them, an
 * attempt number, and what `random` returns. A bad value is an
 * `InvalidOptionError`, never a `NaN` that a timer fires at once (or a
 * `ManualClock` never) and a store cannot read back.
 *
 * @module
 */
import { MAX_TIMER_MS } from "../core/clock.js";
import { valueText } from "../core/text.js";
import { UnknownRouteError } from "../engine/errors.js";
import { InvalidOptionError } from "../errors.js";
import { NonRetryableError } from "../graph/errors.js";
import { validateDuration, validateRetryOptions, type BackoffOptions, type RetryOptions } from "../graph/retry-options.js";

/** A policy with every field decided. */
export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly backoff: Required<BackoffOptions>;
  readonly retryOn?: (error: unknown, attempt: number) => boolean;
  readonly timeoutMs?: number;
}

/** The defaults under every run's and node's options (frozen: a change would reach some policies and not others). */
export const DEFAULT_RETRY: RetryPolicy = Object.freeze({
  maxAttempts: 3,
  backoff: Object.freeze({ initialMs: 100, factor: 2, maxMs: 30_000, jitter: true }),
});

/**
 * Lays node options over run options over the defaults. Throws
 * `InvalidOptionError` for options `run()` or `build()` would refuse.
 */
export function resolveRetryPolicy(run?: RetryOptions, node?: RetryOptions, nodeTimeoutMs?: number): RetryPolicy {
  validateRetryOptions(run, "retry");
  validateRetryOptions(node, "node retry");
  validateDuration(nodeTimeoutMs, "node timeoutMs", false, MAX_TIMER_MS);
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
  const out: Record<string, unknown> = {};
  if (!o) return out as Partial<T>;
  for (const key of Object.keys(o)) {
    const v = (o as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = v;
  }
  return out as Partial<T>;
}

/** True when another attempt should follow the failed attempt `attempt` (from 1). */
export function shouldRetry(policy: RetryPolicy, error: unknown, attempt: number): boolean {
  assertAttempt(attempt, "shouldRetry");
  if (attempt >= policy.maxAttempts) return false;
  if (error instanceof NonRetryableError || error instanceof UnknownRouteError) return false;
  if (policy.retryOn && !policy.retryOn(error, attempt)) return false;
  return true;
}

/**
 * The delay (ms) after failed attempt `attempt` (from 1); `random` returns
 * a number from 0 to 1, as `Math.random` does (`InvalidOptionError` naming
 * `random` otherwise: a `NaN` delay was stored as the node's `retryAt`,
 * which no store reads back).
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  assertAttempt(attempt, "backoffDelay");
  const { initialMs, factor, maxMs, jitter } = policy.backoff;
  // A zero initial delay stays 0: once factor^n overflows to Infinity, 0 × Infinity would be NaN (a timer never due).
  const nominal = initialMs === 0 ? 0 : Math.min(maxMs, initialMs * factor ** (attempt - 1));
  if (!jitter) return nominal;
  const r: unknown = random();
  if (typeof r !== "number" || !(r >= 0 && r <= 1)) {
    throw new InvalidOptionError("random", `must return a number from 0 to 1, as Math.random does (got ${valueText(r)})`);
  }
  return Math.round(nominal / 2 + r * (nominal / 2));
}

function assertAttempt(attempt: unknown, what: string): void {
  if (typeof attempt !== "number" || !Number.isInteger(attempt) || attempt < 1) {
    throw new InvalidOptionError("attempt", `of ${what} must be a whole number of at least 1, the attempt that failed (got ${valueText(attempt)})`);
  }
}
