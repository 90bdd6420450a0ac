/**
 * The options and the report of `StageRunner.runAsync`, in their own module
 * so that the runner and its command (`stage-cli.ts`) both import them
 * without importing each other.
 *
 * @module
 */

import type { RetryFailedOptions } from "./failed-retries.js";
import type { TaskReport } from "./task-report.js";
import type { TaskInput, TaskSource } from "./task-source.js";

/**
 * Options of {@link StageRunner.runAsync}.
 *
 * @example
 * ```ts
 * await runner.runAsync({ tasks: new JsonFileTaskSource("tasks.json"), runId: "labeling-1", maxConcurrency: 4 });
 * ```
 */
export interface StageRunOptions {
  /** The tasks: a source, or a list (held in a `MemoryTaskSource`). */
  readonly tasks: TaskSource | readonly TaskInput[];
  /** The runner run id: the same id resumes. @default a new `stages-<uuid>` */
  readonly runId?: string;
  /** Retries of a failed agent call (attempts = numRetries + 1). @default 3 */
  readonly numRetries?: number;
  /** Agent calls at once, across all tasks; a batch drives 4 times as many task runs at once (at least 32). @default 8 */
  readonly maxConcurrency?: number;
  /** Tasks processed together; one write to the source per batch. @default 300 */
  readonly batchSize?: number;
  /** At most this many tasks processed per stage per sweep (the rest wait for a later sweep). @default Infinity */
  readonly maxTasksPerStage?: number;
  /** Sweep again this long after each sweep started (ms), until `signal` aborts. @default one sweep */
  readonly refreshEveryMs?: number;
  /**
   * Stops the runner: no new batch and no new agent call starts, running
   * tasks are cancelled (and resume next time), and `runAsync` resolves
   * once the agent calls it started have ended (or ignored their aborted
   * signal for 5 s: abandoned, with a `warning` event).
   */
  readonly signal?: AbortSignal;
  /** How later sweeps retry failed tasks: a backoff from `refreshEveryMs`, doubling, capped at one hour and 10 retries. */
  readonly retryFailed?: RetryFailedOptions;
}

/** What `runAsync` resolves to. */
export interface StageRunReport {
  readonly runId: string;
  /** Sweeps made. */
  readonly sweeps: number;
  /** Every task of the last sweep, with where it stands. */
  readonly tasks: readonly TaskReport[];
  /** Tasks in each stage, by stage id. */
  readonly byStage: Readonly<Record<string, number>>;
  /** Tasks that completed (in a final stage). */
  readonly completed: number;
  /** Tasks waiting for a person. */
  readonly waiting: number;
  /** Tasks that failed, with why. */
  readonly failed: readonly TaskReport[];
  /** Tasks at an agent stage this runner does not serve, left for a runner that serves it. */
  readonly queued: number;
  /**
   * What this runner did: task processings over all sweeps in which it
   * called an agent, made a move or saw the task fail (a task another
   * runner finished meanwhile does not count; nor does other runners' work).
   */
  readonly processed: number;
  /** What this runner did: the moves it made, by the stage the task left (`{ "pre-label": 40 }`). */
  readonly moves: Readonly<Record<string, number>>;
}
