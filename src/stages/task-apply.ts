/**
 * `runner.apply(runId, jobResult)`: closes the loop of a queue worker. A
 * task parked at an agent stage (one the runner that saw it last does not
 * serve, or whose `maxTasksPerStage` was reached) waits at the stage's
 * `due:<stage>:<visit>:<n>` key (see `compile-workflow.ts`);
 * applying a job handler's result (its JSON, or the parsed object) writes
 * the answer into that wait, durably, and the task moves along the chosen
 * pathway at the runner's next sweep (as for `act`). A result without a
 * pathway (the agent kept the task) or a failed job leaves the task due at
 * the stage, at the next key, with the job's error in its report.
 *
 * Idempotent. The answer is written under the run's short delivery lease
 * (compare, then write, with nothing in between), so of two workers that
 * apply results for the same wait, one writes and the other sees it:
 * - the same result again (same pathway, updates and error, for the same
 *   wait) is not an error and writes nothing: the task moves once;
 * - any other result for a wait that already has one, a result whose
 *   `key` names a wait the task has left, a result whose `instance` names
 *   an earlier run of the task's id (deleted since), or a result for a
 *   stage the task is not due at is refused with `StaleJobResultError`,
 *   writing nothing.
 *
 * Everything is checked before anything is written: the result's shape,
 * the stage (an agent stage), and the pathway (by name or uuid; an unknown
 * one is `UnknownPathwayError`).
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Clock } from "../core/clock.js";
import { valueText } from "../core/text.js";
import { isDurable } from "../core/value-codec.js";
import { InvalidOptionError } from "../errors.js";
import { RunLockedError } from "../persistence/errors.js";
import type { Lease, RunStore, StoredRun } from "../persistence/run-store.js";
import { acquireDeliveryLease, isDeliveryLease } from "../runner/delivery-lease.js";
import { RunNotFoundError } from "../runner/errors.js";
import { asTaskloomError } from "../runner/run-lease.js";
import { nodeRecords } from "../state/node-table.js";
import { deliverToInbox, openWaitKeys, type RunState } from "../state/run-state.js";
import type { QueuedAnswer } from "./compile-workflow.js";
import { parseStageKey } from "./stage-keys.js";
import type { JobResult } from "./job-handlers.js";
import { StaleJobResultError, UnknownPathwayError } from "./stage-errors.js";
import { pathwayName } from "./stage-names.js";
import { stageNamed } from "./task-query.js";
import { taskRunId } from "./task-run-id.js";
import { pathwayNames, type Stage, type Workflow } from "./workflow.js";

/** What {@link StageRunner.apply} did. */
export interface ApplyResult {
  readonly taskId: string;
  readonly stageId: string;
  /** The wait the result was written to. */
  readonly key: string;
  /** The pathway the task takes at the next sweep (null: it stays due at the stage). */
  readonly pathway: string | null;
  /** False when this very result had been applied before (nothing was written this time). */
  readonly applied: boolean;
}

/** What applying needs from its runner. */
export interface ApplyHost {
  readonly store: RunStore;
  readonly workflow: Workflow;
}

/** How long `apply` waits for a runner that is driving the task to let it go. */
const DRIVER_PATIENCE_MS = 10_000;

/** Reads a job result (JSON text or object) and checks its shape; throws `InvalidOptionError`. */
export function readJobResult(value: unknown): JobResult & { readonly taskId: string } {
  let raw = value;
  if (typeof value === "string") {
    try {
      raw = JSON.parse(value);
    } catch (error) {
      throw new InvalidOptionError("jobResult", `is not valid JSON (${(error as Error).message})`);
    }
  }
  const r = raw as Partial<JobResult> | null;
  if (r === null || typeof r !== "object" || Array.isArray(r)) {
    throw new InvalidOptionError("jobResult", "must be one job handler result { taskId, stageId, success, pathway, error, updates } (apply each of a batch)");
  }
  if (typeof r.taskId !== "string") throw new InvalidOptionError("jobResult.taskId", `must be the task's id (got ${valueText(r.taskId)})`);
  if (typeof r.stageId !== "string") throw new InvalidOptionError("jobResult.stageId", `must be a stage id (got ${valueText(r.stageId)})`);
  if (typeof r.success !== "boolean") throw new InvalidOptionError("jobResult.success", `must be true or false (got ${valueText(r.success)})`);
  if (r.pathway !== null && typeof r.pathway !== "string") throw new InvalidOptionError("jobResult.pathway", "must be a pathway name or null");
  if (r.error !== null && r.error !== undefined && typeof r.error !== "string") throw new InvalidOptionError("jobResult.error", "must be a string or null");
  if (r.updates === null || typeof r.updates !== "object" || Array.isArray(r.updates)) throw new InvalidOptionError("jobResult.updates", "must be an object");
  if (r.key !== undefined && typeof r.key !== "string") throw new InvalidOptionError("jobResult.key", "must be a string");
  if (r.instance !== undefined && typeof r.instance !== "string") throw new InvalidOptionError("jobResult.instance", "must be a string");
  return r as JobResult & { readonly taskId: string };
}

/** The answer a result gives its stage's wait: a pathway by name (not uuid), or none with the error. */
function answerOf(stage: Stage, result: JobResult, at: number): QueuedAnswer {
  if (!result.success) return { pathway: null, updates: {}, error: result.error ?? "the job failed", at };
  if (result.pathway === null) return { pathway: null, updates: result.updates, error: null, at };
  const name = pathwayName(stage, result.pathway);
  if (name === undefined) throw new UnknownPathwayError(stage.id, result.pathway, pathwayNames(stage));
  return { pathway: name, updates: result.updates, error: null, at };
}

function sameAnswer(a: QueuedAnswer, b: QueuedAnswer): boolean {
  return a.pathway === b.pathway && a.error === b.error && JSON.stringify(a.updates) === JSON.stringify(b.updates);
}

/** Whether the park key `key` has an answer (delivered to the inbox, or taken by the node): it is waited for, never served. */
export function answeredAt(state: RunState | undefined, key: string): boolean {
  if (state === undefined) return false;
  if (state.meta.inbox?.[key] !== undefined) return true;
  for (const record of nodeRecords(state.nodes)) if (record.waits?.[key]?.resolved !== undefined) return true;
  return false;
}

/** Every answer already given to a `due:` wait of `stageId` (delivered or taken), by key. */
function givenAnswers(state: RunState, stageId: string): Map<string, QueuedAnswer> {
  const out = new Map<string, QueuedAnswer>();
  for (const record of nodeRecords(state.nodes)) {
    for (const [key, wait] of Object.entries(record.waits ?? {})) {
      const parsed = parseStageKey(key);
      if (parsed?.kind === "due" && parsed.stageId === stageId && wait.resolved) out.set(key, wait.resolved.payload as QueuedAnswer);
    }
  }
  for (const [key, entry] of Object.entries(state.meta.inbox ?? {})) {
    const parsed = parseStageKey(key);
    if (parsed?.kind === "due" && parsed.stageId === stageId) out.set(key, entry.payload as QueuedAnswer);
  }
  return out;
}

type Decision = { readonly write: false; readonly key: string } | { readonly write: true; readonly key: string };

/** Decides, from the stored run alone, whether the answer is written, was already given, or is stale (throws). */
function decide(state: RunState, taskId: string, stage: Stage, result: JobResult, answer: QueuedAnswer): Decision {
  // A result for a run of the task's id that was deleted since (its job may outlive it in a queue): not this run's.
  if (result.instance !== undefined && result.instance !== state.meta.instance) {
    throw new StaleJobResultError(taskId, stage.id, `it is for an earlier run of the task's id, deleted since (mark ${result.instance})`);
  }
  const given = givenAnswers(state, stage.id);
  // Only where the task is parked now: a `due:` key a runner that serves the stage went past (it called the agent) is stale.
  const current = new Set(state.meta.status === "waiting" ? state.meta.waits.map((w) => w.key) : []);
  const open = openWaitKeys(state).open.filter((k) => {
    const parsed = parseStageKey(k);
    return parsed?.kind === "due" && parsed.stageId === stage.id && current.has(k);
  });
  if (result.key !== undefined) {
    const before = given.get(result.key);
    if (before !== undefined) {
      if (sameAnswer(before, answer)) return { write: false, key: result.key };
      throw new StaleJobResultError(taskId, stage.id, `another result was already applied to its wait "${result.key}"`);
    }
    if (open.includes(result.key)) return { write: true, key: result.key };
    throw new StaleJobResultError(taskId, stage.id, `the task no longer waits at "${result.key}" (it is not due there any more)`);
  }
  // No key: the result is for the task's current wait at the stage (a queue that keeps results' keys never reaches here).
  const free = open.find((k) => !given.has(k));
  if (free !== undefined) return { write: true, key: free };
  const same = [...given].filter(([, before]) => sameAnswer(before, answer)).at(-1);
  if (same !== undefined) return { write: false, key: same[0] };
  if (open.length > 0) throw new StaleJobResultError(taskId, stage.id, "another result was already applied to its wait");
  throw new StaleJobResultError(taskId, stage.id, `the task is not due at stage "${stage.id}" (it is not waiting for a queue worker there)`);
}

/** Applies a job handler's result to its task (see `StageRunner.apply`). */
export async function applyJobResult(runner: ApplyHost, clock: Clock, runId: string, jobResult: unknown): Promise<ApplyResult> {
  const result = readJobResult(jobResult);
  const stage = stageNamed(runner.workflow, result.stageId, "jobResult.stageId");
  if (stage.kind !== "agent") throw new InvalidOptionError("jobResult.stageId", `"${stage.id}" is a ${stage.kind} stage; job results are for agent stages`);
  const answer = answerOf(stage, result, clock.now());
  if (!isDurable(answer.updates))
    throw new InvalidOptionError("jobResult.updates", "must hold values the store can keep (no functions, class instances or cycles)");
  const id = taskRunId(runId, result.taskId);
  return underDeliveryLease(runner.store, id, async (stored, lease) => {
    const decision = decide(stored.state, result.taskId, stage, result, answer);
    if (decision.write) await writeToInbox(runner.store, stored, lease, decision.key, answer, answer.at);
    return { taskId: result.taskId, stageId: stage.id, key: decision.key, pathway: answer.pathway, applied: decision.write };
  });
}

/**
 * Runs `step` on the stored run `id` under the run's short delivery lease: what it reads cannot
 * change before what it writes (`writeToInbox`), so a compare and its write are one step, against
 * other processes as well. A runner that drives the run (it is about to stop at the wait, or it
 * is moving the task) is given up to {@link DRIVER_PATIENCE_MS} to let it go; then, and for a
 * store failure, the error is thrown. `RunNotFoundError` for a run the store does not have.
 */
export async function underDeliveryLease<T>(store: RunStore, id: string, step: (stored: StoredRun, lease: Lease) => Promise<T>): Promise<T> {
  const giveUpAt = Date.now() + DRIVER_PATIENCE_MS;
  for (let tries = 1; ; tries++) {
    if (!(await store.load(id))) throw new RunNotFoundError(id);
    let lease: Lease;
    try {
      lease = await acquireDeliveryLease(store, id);
    } catch (error) {
      if (error instanceof RunLockedError && !isDeliveryLease(error.holder) && Date.now() < giveUpAt) {
        await sleep(Math.min(200, 5 * tries));
        continue;
      }
      throw error;
    }
    try {
      const stored = await store.load(id);
      if (!stored) throw new RunNotFoundError(id);
      return await step(stored, lease);
    } finally {
      await store.releaseLease(lease).catch(() => undefined);
    }
  }
}

/** Writes `payload` into the stored run's inbox at `key`, fenced by `lease` (a failed write is a `PersistenceError`). */
export async function writeToInbox(store: RunStore, stored: StoredRun, lease: Lease, key: string, payload: unknown, at: number): Promise<void> {
  const next = deliverToInbox(stored.state, key, { payload, at });
  await store.writeSnapshot(next, stored.seq, lease).catch((error: unknown) => {
    throw asTaskloomError(stored.state.meta.runId, error);
  });
}
