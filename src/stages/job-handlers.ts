/**
 * Agent stages as JSON-in / JSON-out functions, for any queue (BullMQ,
 * SQS, a cron job): `handlers["pre-label"](JSON.stringify(task))` calls the
 * stage's agent (with its providers, retried) and resolves to
 * `{"taskId","stageId","success","pathway","error","updates"}` as JSON.
 * A JSON array of tasks gives an array of results, in order (a batch).
 *
 * A handler never rejects: bad JSON, a bad task, an agent that keeps
 * failing, an unknown pathway all come back as `success: false` with the
 * error's one-line description, so the queue's own retry is the caller's
 * choice. Moving the task is the caller's job: the handler only says which
 * pathway the agent chose (`null` when the task stays).
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { describe, InvalidOptionError, isTaskloomError } from "../errors.js";
import { NonRetryableError } from "../graph/errors.js";
import { backoffDelay, DEFAULT_RETRY, resolveRetryPolicy } from "../engine/retry-policy.js";
import { MAX_TIMER_MS } from "./sweep-pacing.js";
import { callAgent, type AgentRegistry } from "./agents.js";
import { parseStageKey } from "./stage-keys.js";
import type { StageTask } from "./stage-task.js";
import { ProviderScope } from "./providers.js";
import { UnknownPathwayError } from "./stage-errors.js";
import { validateTasks, type TaskInput } from "./task-source.js";
import { statusOnEntry } from "./task-status.js";
import type { Stage } from "./workflow.js";

/** The result of one job, as JSON. */
export interface JobResult {
  /** The task's id (null when the spec had none). */
  readonly taskId: string | null;
  /** The stage whose agent ran. */
  readonly stageId: string;
  /** True when the agent answered with a valid pathway (or stayed). */
  readonly success: boolean;
  /** The pathway chosen; null when the task stays, or on failure. */
  readonly pathway: string | null;
  /** The error's one-line description, or null. */
  readonly error: string | null;
  /** The updates the agent returned with its pathway (`{}` when none). */
  readonly updates: Readonly<Record<string, unknown>>;
  /**
   * The wait the result is for, echoed from the spec's `key` (specs from `runner.tasksAt` have one),
   * so that `runner.apply` applies it to that visit only. Absent when the spec had none.
   */
  readonly key?: string;
  /**
   * The mark of the task's run, echoed from the spec's `instance` (specs from `runner.tasksAt` have one), so
   * that `runner.apply` refuses the result when the run it was for was deleted and started again. Absent when
   * the spec had none.
   */
  readonly instance?: string;
}

/**
 * A stage's job handler: a JSON task spec (or an array of them) in, a JSON
 * {@link JobResult} (or an array) out.
 */
export type JobHandler = (spec: string) => Promise<string>;

/** Options of `toJobHandlers`. */
export interface JobHandlerOptions {
  /** Further attempts after a failed agent call (queues usually retry themselves). @default 0 */
  readonly numRetries?: number;
  /** Delay before the first retry (ms, at most 2^31 - 1), doubling after each up to 30 s (or this delay, when longer). @default 100 */
  readonly retryDelayMs?: number;
  /** Passed to agents and providers as `runId`. @default "jobs" */
  readonly runId?: string;
}

const JOB_HANDLER_OPTION_KEYS = optionKeys<JobHandlerOptions>({ numRetries: true, retryDelayMs: true, runId: true });

/** Builds a handler per agent stage that has an agent, in registration order. */
export function buildJobHandlers(registry: AgentRegistry, options: JobHandlerOptions = {}): Record<string, JobHandler> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("toJobHandlers options", "must be an object");
  assertKnownKeys("toJobHandlers", options, JOB_HANDLER_OPTION_KEYS);
  const numRetries = options.numRetries ?? 0;
  if (!Number.isInteger(numRetries) || numRetries < 0)
    throw new InvalidOptionError("numRetries", `must be a whole number of at least 0 (got ${String(numRetries)})`);
  const retryDelayMs = options.retryDelayMs ?? 100;
  // At most what a Node timer holds: a longer delay would fire after 1 ms.
  if (!(typeof retryDelayMs === "number" && Number.isFinite(retryDelayMs) && retryDelayMs >= 0 && retryDelayMs <= MAX_TIMER_MS)) {
    throw new InvalidOptionError("retryDelayMs", `must be a number of milliseconds from 0 to ${MAX_TIMER_MS} (got ${String(retryDelayMs)})`);
  }
  const runId = options.runId ?? "jobs";
  if (typeof runId !== "string") throw new InvalidOptionError("runId", "must be a string");
  // The doubling stops at 30 s, but never below the delay asked for (the engine's default cap would cut a 60 s retryDelayMs to 30 s).
  const maxMs = Math.max(DEFAULT_RETRY.backoff.maxMs, retryDelayMs);
  const policy = resolveRetryPolicy({ maxAttempts: numRetries + 1, backoff: { initialMs: retryDelayMs, factor: 2, maxMs, jitter: false } });

  const handlers: Record<string, JobHandler> = {};
  for (const agent of registry.list()) {
    const stage = registry.workflow.stage(agent.stageId) as Stage;
    const one = async (raw: unknown): Promise<JobResult> => {
      const taskId = typeof (raw as { id?: unknown } | null)?.id === "string" ? (raw as { id: string }).id : null;
      const rawKey = (raw as { key?: unknown } | null)?.key;
      const rawInstance = (raw as { instance?: unknown } | null)?.instance;
      const echo = { ...(typeof rawKey === "string" && { key: rawKey }), ...(typeof rawInstance === "string" && { instance: rawInstance }) };
      const fail = (error: unknown): JobResult => ({ taskId, stageId: stage.id, success: false, pathway: null, error: describe(error), updates: {}, ...echo });
      let input: TaskInput;
      try {
        validateTasks([raw], "job");
        input = raw as TaskInput;
        if (input.stageId !== undefined && input.stageId !== stage.id) {
          throw new InvalidOptionError("job.stageId", `is "${input.stageId}", but this handler runs stage "${stage.id}"`);
        }
      } catch (error) {
        return fail(error);
      }
      const task: StageTask = {
        id: input.id,
        data: input.data ?? {},
        stageId: stage.id,
        status: input.status ?? statusOnEntry(false, 1),
        ...(input.assignee !== undefined && { assignee: input.assignee }),
      };
      // A spec from runner.tasksAt names its wait, and so the task's visit to the stage.
      const visit = echo.key !== undefined ? (parseStageKey(echo.key)?.visit ?? 1) : 1;
      const scope = new ProviderScope();
      try {
        for (let attempt = 1; ; attempt++) {
          try {
            const outcome = await callAgent(stage, agent, task, { runId, attempt, visit, signal: new AbortController().signal }, scope);
            assertJsonUpdates(stage, outcome.updates);
            return { taskId, stageId: stage.id, success: true, pathway: outcome.pathway ?? null, error: null, updates: outcome.updates, ...echo };
          } catch (error) {
            const final = error instanceof UnknownPathwayError || error instanceof NonRetryableError || isTaskloomError(error, "INVALID_OPTION");
            if (final || attempt >= policy.maxAttempts) return fail(error);
            await new Promise((resolve) => setTimeout(resolve, backoffDelay(policy, attempt)));
          }
        }
      } finally {
        await scope.dispose();
      }
    };
    handlers[stage.id] = async (spec: string): Promise<string> => {
      let raw: unknown;
      try {
        if (typeof spec !== "string") throw new TypeError(`a job spec must be a JSON string, not a ${typeof spec}`);
        raw = JSON.parse(spec);
      } catch (error) {
        const message = error instanceof SyntaxError ? `the job spec is not valid JSON (${error.message})` : describe(error);
        return JSON.stringify({ taskId: null, stageId: stage.id, success: false, pathway: null, error: message, updates: {} } satisfies JobResult);
      }
      if (Array.isArray(raw)) return JSON.stringify(await Promise.all(raw.map(one)));
      return JSON.stringify(await one(raw));
    };
  }
  return handlers;
}

/**
 * Throws `NonRetryableError` when the agent's updates cannot be written as the result's JSON (a
 * `BigInt`, which `JSON.stringify` refuses): the handler resolves to a failed result instead of rejecting.
 */
function assertJsonUpdates(stage: Stage, updates: Readonly<Record<string, unknown>>): void {
  for (const _ in updates) {
    try {
      JSON.stringify(updates);
    } catch (error) {
      throw new NonRetryableError(
        `the agent of stage "${stage.id}" returned updates a job result cannot hold as JSON (${(error as Error).message}); return JSON data (strings, numbers, booleans, arrays, plain objects)`,
      );
    }
    return;
  }
}
