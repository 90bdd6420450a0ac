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
import { UnknownRouteError } from "../engine/errors.js";
import { NonRetryableError } from "../graph/errors.js";
import type { BackoffOptions, RetryOptions } from "../graph/retry-options.js";

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
  if (attempt >= policy.maxAttempts) return false;
  if (error instanceof NonRetryableError || error instanceof UnknownRouteError) return false;
  if (policy.retryOn && !policy.retryOn(error, attempt)) return false;
  return true;
}

/** The delay (ms) after failed attempt `attempt` (from 1); `random` returns [0, 1). */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const { initialMs, factor, maxMs, jitter } = policy.backoff;
  // A zero initial delay stays 0: once factor^n overflows to Infinity, 0 × Infinity would be NaN (a timer never due).
  const nominal = initialMs === 0 ? 0 : Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  if (!jitter) return nominal;
  return Math.round(nominal / 2 + random() * (nominal / 2));
}
