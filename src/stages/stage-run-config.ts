/**
 * The options of one `StageRunner.runAsync` call, checked at the boundary
 * and resolved into a {@link RunConfig} with their defaults: a run id
 * (`stages-<uuid>` when none is given), the task source (an array becomes
 * a `MemoryTaskSource`), retries, concurrency, batch size, the per-stage
 * limit, the refresh period and the abort signal.
 *
 * Invariants: every count is a whole number of at least 1 (`numRetries`
 * may be 0; `maxConcurrency` and `maxTasksPerStage` may be Infinity); an
 * unknown option is refused with a did-you-mean hint; nothing is read or
 * written before the options are valid.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { assertRunId } from "../core/run-id.js";
import { retryFailedPolicy, type RetryFailedOptions } from "./failed-retries.js";
import type { StageRunOptions } from "./stage-run-options.js";
import { MemoryTaskSource, type TaskSource } from "./task-source.js";
import { valueText } from "../core/text.js";

/** The options of one `runAsync` call, checked and with their defaults. */
export interface RunConfig {
  readonly runId: string;
  readonly source: TaskSource;
  readonly numRetries: number;
  readonly maxConcurrency: number;
  readonly batchSize: number;
  readonly maxTasksPerStage: number;
  readonly refreshEveryMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly retryFailed: RetryFailedOptions | undefined;
}

const RUN_OPTION_KEYS = optionKeys<StageRunOptions>({
  tasks: true,
  runId: true,
  numRetries: true,
  maxConcurrency: true,
  batchSize: true,
  maxTasksPerStage: true,
  refreshEveryMs: true,
  signal: true,
  retryFailed: true,
});

/** Throws `InvalidOptionError` unless `value` is undefined or a whole number of at least 1 (or Infinity when allowed). */
export function positiveInt(value: unknown, name: string, allowInfinity = false): void {
  if (value === undefined) return;
  if (allowInfinity && value === Infinity) return;
  if (!(typeof value === "number" && Number.isInteger(value) && value >= 1)) {
    throw new InvalidOptionError(name, `must be a whole number of at least 1${allowInfinity ? ", or Infinity" : ""} (got ${valueText(value)})`);
  }
}

/** Checks the options of `runAsync` and resolves their defaults. */
export function validateStageRunOptions(options: StageRunOptions): RunConfig {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("runAsync options", "must be an object");
  assertKnownKeys("StageRunner.runAsync", options, RUN_OPTION_KEYS);
  const runId = options.runId ?? `stages-${randomUUID()}`;
  assertRunId(runId);
  const n = options.numRetries ?? 3;
  if (!(Number.isInteger(n) && n >= 0)) throw new InvalidOptionError("numRetries", `must be a whole number of at least 0 (got ${String(n)})`);
  positiveInt(options.maxConcurrency, "maxConcurrency", true);
  positiveInt(options.batchSize, "batchSize");
  positiveInt(options.maxTasksPerStage, "maxTasksPerStage", true);
  const r = options.refreshEveryMs;
  if (r !== undefined && !(typeof r === "number" && Number.isFinite(r) && r > 0)) {
    throw new InvalidOptionError("refreshEveryMs", `must be a finite number of milliseconds above 0 (got ${String(r)})`);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new InvalidOptionError("signal", "must be an AbortSignal");
  retryFailedPolicy(options.retryFailed, r);
  const tasks = options.tasks;
  let source: TaskSource;
  if (Array.isArray(tasks)) {
    // The source checks the tasks (validateTasks, as "tasks[i]"): once, not twice.
    source = new MemoryTaskSource(tasks);
  } else if (
    tasks !== null &&
    typeof tasks === "object" &&
    typeof (tasks as TaskSource).fetch === "function" &&
    typeof (tasks as TaskSource).write === "function"
  ) {
    source = tasks as TaskSource;
  } else {
    throw new InvalidOptionError("tasks", "must be an array of tasks or a TaskSource (fetch() and write(moves))");
  }
  return {
    runId,
    source,
    numRetries: n,
    maxConcurrency: options.maxConcurrency ?? 8,
    batchSize: options.batchSize ?? 300,
    maxTasksPerStage: options.maxTasksPerStage ?? Infinity,
    refreshEveryMs: r,
    signal: options.signal,
    retryFailed: options.retryFailed,
  };
}
