/**
 * Per-schedule run options: what a schedule asks of each of its runs,
 * kept in the schedule store as data. They can only be data, because the
 * process that fires a slot may not be the one that made the schedule:
 * a deadline (`timeoutMs`), the concurrency, retry and visit limits, and
 * the NAME of an executor that the firing `Scheduler` was given in
 * `new Scheduler({ executors: { name: executor } })`.
 *
 * Invariants: stored run options are JSON data and valid run options;
 * `executor` is a non-empty name, never an object; a schedule's options
 * override the scheduler's `runOptions` key by key.
 *
 * @module
 */
import { assertKnownKeys } from "../core/known-keys.js";
import { valueText } from "../core/text.js";
import { InvalidOptionError } from "../errors.js";
import type { RetryOptions } from "../graph/retry-options.js";
import { validateRunOptions } from "../runner/run-options.js";

/**
 * The run options a schedule stores for each of its runs.
 *
 * @example
 * ```ts
 * await schedule(digest, {}, { when: "now", repeat: { every: "1h" }, runOptions: { timeoutMs: 600_000, executor: "bullmq" } });
 * ```
 */
export interface ScheduleRunOptions {
  /** A deadline for each run (ms from its start): past it the run is cancelled with `RunTimeoutError` (`RUN_TIMEOUT`). @default the scheduler's `runOptions.timeoutMs`, else none */
  readonly timeoutMs?: number;
  /** The name of the executor to run nodes on, one of the firing scheduler's `executors`. @default the scheduler's `runOptions.executor`, else in process */
  readonly executor?: string;
  /** At most this many nodes at once. @default the scheduler's, else 8 */
  readonly maxConcurrency?: number;
  /** The default retry policy of the run's nodes (data only: no `retryOn` function). */
  readonly retry?: Omit<RetryOptions, "retryOn">;
  /** Visits per node in a routed graph. */
  readonly maxVisits?: number;
  /** Keep running independent nodes after one fails. */
  readonly continueOnError?: boolean;
}

/** The keys of {@link ScheduleRunOptions}. */
export const SCHEDULE_RUN_OPTION_KEYS = ["timeoutMs", "executor", "maxConcurrency", "retry", "maxVisits", "continueOnError"] as const;

/** Checks a schedule's `runOptions` and returns a plain-data copy to store. Throws `InvalidOptionError`. */
export function checkScheduleRunOptions(value: unknown): ScheduleRunOptions {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new InvalidOptionError("runOptions", `must be an object such as { timeoutMs: 600_000, executor: "bullmq" } (got ${valueText(value)})`);
  }
  assertKnownKeys("runOptions", value, SCHEDULE_RUN_OPTION_KEYS);
  const { executor, ...rest } = value as Record<string, unknown>;
  if (executor !== undefined && (typeof executor !== "string" || executor.length === 0)) {
    throw new InvalidOptionError(
      "runOptions.executor",
      `must be the name of an executor the scheduler was given (new Scheduler({ executors: { name: executor } })), not ${valueText(executor)}: a schedule is stored as data`,
    );
  }
  validateRunOptions(rest);
  let copy: unknown;
  try {
    copy = JSON.parse(JSON.stringify(value)) as unknown;
  } catch {
    copy = undefined;
  }
  if (!sameJson(copy, value)) {
    throw new InvalidOptionError(
      "runOptions",
      "must be plain data (numbers, strings, booleans, objects): a schedule is stored, so functions such as retry.retryOn cannot be kept",
    );
  }
  return copy as ScheduleRunOptions;
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
