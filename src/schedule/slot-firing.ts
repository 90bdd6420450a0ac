/**
 * Firing one slot of a schedule: the claim (pure, applied under the
 * schedule store's atomic update) and the run of the claimed slot.
 *
 * Claim invariants: only the lease holder claims, and the claim checks the
 * lease under the same lock (else `LeaseLost`), so two schedulers never
 * fire the same schedule; an unfinished run row is taken again before any
 * other slot is considered, so a slot is never started twice; the
 * catch-up policy (`repeat.ts`) decides which due slot fires and which are
 * recorded as missed; `fired` never exceeds `times`.
 *
 * Run invariants: the run id is derived from the schedule id and the slot
 * (`slotRunId`), so a scheduler that died mid-run is replaced by one that
 * resumes the same run (finished nodes are not run again); a run that had
 * already ended is only read back and recorded, never run again.
 *
 * @module
 */
import { RunCancelledError } from "../engine/errors.js";
import { RunLockedError } from "../persistence/errors.js";
import type { NodeExecutor } from "../engine/node-executor.js";
import { GraphHasPendingWaits, RunTimeoutError } from "../runner/errors.js";
import type { TaskGraph } from "../graph/task-graph.js";
import type { RunStore } from "../persistence/run-store.js";
import { runAsync } from "../runner/run.js";
import type { Clock } from "../core/clock.js";
import { toErrorRecord } from "../state/error-record.js";
import type { ErrorRecord } from "../state/records.js";
import { compactSlot, decideCatchUp } from "./repeat.js";
import { holdsLease } from "./schedule-lease.js";
import { openRun, slotRunId, withRow, type RunRow, type ScheduleRecord, type SlotRunStatus } from "./schedule-record.js";
import type { RunnableGraph, SchedulerRunOptions } from "./scheduler-options.js";
import { ExecutorNotRegisteredError } from "./errors.js";

export type RunRowMissed = Extract<ScheduleRecord["history"][number], { kind: "missed" }>;

/** Thrown inside a claim when the lease is gone; never escapes the scheduler. */
export class LeaseLost extends Error {}

/** How a slot's run ended, or "locked" when another process drives it. */
export type SlotOutcome = { status: Exclude<SlotRunStatus, "running">; outputs?: unknown; error?: ErrorRecord } | "locked";

/** Whether a schedule needs a scheduler: active, or with a run or callback left to finish. */
export function hasWork(r: ScheduleRecord): boolean {
  if (r.status === "active") return true;
  return r.history.some((x) => x.kind === "run" && (x.endedAt === undefined || (x.callback !== undefined && !x.callback.done)));
}

/** The claim, under the store's lock: the record with the due slot's run row appended, or as it is. */
export function claimSlot(r: ScheduleRecord, owner: string, now: number, graceMs: number): ScheduleRecord {
  if (!holdsLease(r, owner, now)) throw new LeaseLost();
  if (openRun(r) !== undefined) return r;
  if (r.status !== "active") return r;
  if (r.nextRunAt === undefined) return { ...r, status: "completed", updatedAt: now };
  if (r.nextRunAt > now) return r;
  if (r.times !== undefined && r.fired >= r.times) {
    const { nextRunAt: _none, ...rest } = r;
    return { ...rest, status: "completed", updatedAt: now };
  }
  const decision = decideCatchUp({ when: r.when, everyMs: r.everyMs, until: r.until, timezone: r.timezone }, r.catchUp, r.nextRunAt, now, graceMs);
  let next: ScheduleRecord = r;
  if (decision.missed) next = withRow(next, { kind: "missed", ...decision.missed, policy: r.catchUp, at: now }, now);
  let fired = next.fired;
  if (decision.fire !== undefined) {
    const runId = slotRunId(r, compactSlot(decision.fire));
    next = withRow(next, { kind: "run", slot: decision.fire, runId, status: "running", startedAt: now }, now);
    fired += 1;
  }
  const exhausted = r.times !== undefined && fired >= r.times;
  const nextRunAt = exhausted ? undefined : decision.nextRunAt;
  const { nextRunAt: _old, ...rest } = next;
  return {
    ...rest,
    fired,
    ...(nextRunAt !== undefined && { nextRunAt }),
    ...(nextRunAt === undefined && decision.fire === undefined && { status: "completed" as const }),
    updatedAt: now,
  };
}

/** What running a slot needs from its scheduler. */
export interface SlotRunContext {
  readonly runs: RunStore;
  readonly runOptions: SchedulerRunOptions;
  /** The executors a schedule may name in its `runOptions.executor`. */
  readonly executors: ReadonlyMap<string, NodeExecutor>;
  readonly clock: Clock;
}

/**
 * The options of a slot's run: the scheduler's `runOptions`, then the
 * schedule's own (its executor looked up by name). A resumed run keeps the
 * deadline stored with it: the schedule's `timeoutMs` is given only to a
 * run's first start, so a run that crashed past its deadline fails at once.
 */
export function slotRunOptions(context: SlotRunContext, record: ScheduleRecord, resuming: boolean): SchedulerRunOptions {
  const { executor: executorName, ...own } = record.runOptions ?? {};
  let executor: NodeExecutor | undefined;
  if (executorName !== undefined) {
    executor = context.executors.get(executorName);
    if (executor === undefined) throw new ExecutorNotRegisteredError(record.id, executorName, [...context.executors.keys()]);
  }
  const options: Record<string, unknown> = { ...context.runOptions, ...own, ...(executor !== undefined && { executor }) };
  if (resuming) delete options.timeoutMs;
  return options;
}

/** Runs (or resumes, or only reads) the slot's run. */
export async function runSlot(context: SlotRunContext, graph: RunnableGraph, record: ScheduleRecord, row: RunRow): Promise<SlotOutcome> {
  const runs: RunStore = context.runs;
  try {
    // A run that ended before a scheduler died is recorded as it ended, never run again.
    const stored = await runs.load(row.runId);
    const meta = stored?.state.meta;
    if (meta?.status === "failed" || meta?.status === "cancelled") {
      return { status: meta.status, ...(meta.error !== undefined && { error: meta.error }) };
    }
    if (meta?.status === "waiting") return { status: "waiting" };
    const outputs = await runAsync(graph as unknown as TaskGraph<unknown, unknown>, stored ? undefined : record.inputs, {
      ...slotRunOptions(context, record, stored !== undefined),
      runId: row.runId,
      store: runs,
      clock: context.clock,
    });
    return { status: "succeeded", outputs };
  } catch (error) {
    if (error instanceof RunLockedError) return "locked";
    if (error instanceof GraphHasPendingWaits) return { status: "waiting" };
    if (error instanceof RunCancelledError || error instanceof RunTimeoutError) return { status: "cancelled", error: toErrorRecord(error) };
    return { status: "failed", error: toErrorRecord(error) };
  }
}
