/**
 * Task planning: what one sweep of a stage runner does with each task,
 * decided from the task's stored run alone (a ts-pattern match over the
 * run's status), and which of the runnable tasks it takes under
 * `maxTasksPerStage`.
 *
 * | stored run | plan |
 * | --- | --- |
 * | none | `start` where the source says it is, else at the start stage (`skip` when the source says COMPLETED; `skip`, failed with `UnknownStageError`, for a stage the workflow lacks) |
 * | succeeded | `skip`: the task is in a final stage |
 * | waiting for a person (`act:` key) | `resume` if `act` delivered an action, else `skip` |
 * | staying (`again:` key) | `again`: resolve the wait and ask the agent again |
 * | failed or cancelled | `resume` with fresh attempts, once per `runAsync` call |
 * | running or pending (a crash) | `resume` |
 *
 * Invariants: planning only reads (the store and the task); every stored
 * status has a plan (the match is exhaustive); a task failed in this
 * `runAsync` call is not retried at a later sweep of the same call.
 *
 * @module
 */
import { match } from "ts-pattern";
import type { RunStore } from "../persistence/run-store.js";
import { UnknownStageError } from "./stage-errors.js";
import { readTaskReport, taskError, type TaskReport } from "./task-report.js";
import { taskRunId } from "./task-run-id.js";
import type { TaskInput } from "./task-source.js";
import type { Workflow } from "./workflow.js";

/** What a sweep does with one task. */
export interface Plan {
  readonly task: TaskInput;
  readonly before: TaskReport;
  readonly kind: "skip" | "start" | "resume" | "again";
  readonly key?: string;
}

/** Decides what this sweep does with a task, from its stored run. */
export async function planTask(store: RunStore, workflow: Workflow, runId: string, task: TaskInput, failedNow: ReadonlySet<string>): Promise<Plan> {
  const stored = await store.load(taskRunId(runId, task.id));
  if (!stored) {
    // A task starts where its source says it is (first seen there, not moved there); an unknown stage fails that task only.
    const at = task.stageId === undefined ? workflow.stage(workflow.start) : workflow.stage(task.stageId);
    if (!at && task.status !== "COMPLETED") {
      const error = taskError(
        new UnknownStageError(
          task.id,
          task.stageId as string,
          workflow.stages.map((s) => s.id),
        ),
      );
      return { task, before: { taskId: task.id, stageId: task.stageId as string, status: "NEW", state: "failed", data: task.data ?? {}, error }, kind: "skip" };
    }
    const fresh: TaskReport = { taskId: task.id, stageId: at?.id ?? workflow.start, status: "NEW", state: "new", data: task.data ?? {} };
    if (task.status === "COMPLETED") {
      return { task, before: { ...fresh, stageId: task.stageId ?? fresh.stageId, status: "COMPLETED", state: "completed" }, kind: "skip" };
    }
    return { task, before: fresh, kind: "start" };
  }
  const before = readTaskReport(task.id, stored.state, workflow);
  const { meta } = stored.state;
  return (
    match(meta.status)
      .returnType<Plan>()
      .with("succeeded", () => ({ task, before, kind: "skip" }))
      .with("waiting", () => {
        const key = before.waitKey;
        if (before.state === "staying" && key !== undefined) return { task, before, kind: "again", key };
        // Waiting for a person: go on only once an action was recorded.
        return { task, before, kind: key !== undefined && meta.inbox?.[key] !== undefined ? "resume" : "skip" };
      })
      // Failed runs get fresh attempts once per runAsync call, not at every sweep of it.
      .with("failed", "cancelled", () => ({ task, before, kind: failedNow.has(task.id) ? "skip" : "resume" }))
      // A run left running or pending was interrupted (a crash): resume it.
      .with("running", "pending", () => ({ task, before, kind: "resume" }))
      .exhaustive()
  );
}

/** The runnable plans, at most `max` per stage, in order. */
export function limitPerStage(plans: readonly Plan[], max: number): Plan[] {
  const counts = new Map<string, number>();
  const out: Plan[] = [];
  for (const p of plans) {
    if (p.kind === "skip") continue;
    const n = counts.get(p.before.stageId) ?? 0;
    if (n >= max) continue;
    counts.set(p.before.stageId, n + 1);
    out.push(p);
  }
  return out;
}
