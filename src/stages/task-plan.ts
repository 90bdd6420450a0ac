/**
 * Task planning: what one sweep of a stage runner does with each task,
 * decided from the task's stored run alone (a ts-pattern match over the
 * run's status), and which of the runnable tasks it takes under
 * `maxTasksPerStage`.
 *
 * | stored run | plan |
 * | --- | --- |
 * | none | `start` at the start stage (`skip` when the source says COMPLETED) |
 * | succeeded | `skip`: the task is in a final stage |
 * | waiting for a person (`act:` key) | `resume` if `act` delivered an action, else `skip` |
 * | staying (`again:` key) | `again`: resolve the wait and ask the agent again |
 * | parked at an agent stage (`due:` key) | `resume` when this runner serves the stage, else `skip` |
 * | failed or cancelled | `resume` with fresh attempts, when its retry is due (`failed-retries.ts`) |
 * | running or pending (a crash, or another runner drives it) | `resume` |
 *
 * Whatever the status, a task at an agent stage this runner does not
 * serve is left (`skip`) for a runner that serves the stage.
 *
 * Invariants: planning only reads (the store and the task); every stored
 * status has a plan (the match is exhaustive); a task failed in this
 * `runAsync` call is retried only when its backoff says so; the cap
 * counts, per stage, the tasks chosen here and those admitted later in
 * the sweep (`sweep-admission.ts`).
 *
 * @module
 */
import { match } from "ts-pattern";
import type { RunStore } from "../persistence/run-store.js";
import { parseStageKey } from "./compile-workflow.js";
import type { SweepAdmission } from "./sweep-admission.js";
import { readTaskReport, type TaskReport } from "./task-report.js";
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

/** What planning needs to know about the runner and this sweep. */
export interface PlanContext {
  /** Whether a failed task may be tried again in this sweep. */
  readonly retryDue: (taskId: string) => boolean;
  /** Whether this runner serves a stage (calls its agent). */
  readonly serves: (stageId: string) => boolean;
}

/** Decides what this sweep does with a task, from its stored run. */
export async function planTask(store: RunStore, workflow: Workflow, runId: string, task: TaskInput, context: PlanContext): Promise<Plan> {
  const stored = await store.load(taskRunId(runId, task.id));
  if (!stored) {
    const fresh: TaskReport = { taskId: task.id, stageId: workflow.start, status: "NEW", state: "new", data: task.data ?? {} };
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
        // Staying at an agent stage: asked again only by a runner that serves the stage.
        if (before.state === "staying" && key !== undefined) return { task, before, kind: context.serves(before.stageId) ? "again" : "skip", key };
        // Parked at an agent stage: the runners that serve it resume the run (the key is never resolved).
        if (key !== undefined && parseStageKey(key)?.kind === "due") return { task, before, kind: context.serves(before.stageId) ? "resume" : "skip" };
        // Waiting for a person: go on only once an action was recorded.
        return { task, before, kind: key !== undefined && meta.inbox?.[key] !== undefined ? "resume" : "skip" };
      })
      // Failed runs get fresh attempts at the first sweep of a runAsync call, then when their backoff allows.
      // Only runners that serve the task's stage resume it (the others would only park it again).
      .with("failed", "cancelled", () => ({ task, before, kind: context.retryDue(task.id) && context.serves(before.stageId) ? "resume" : "skip" }))
      // A run left running or pending was interrupted (a crash), or another runner drives it: resume it (or find it busy).
      .with("running", "pending", () => ({ task, before, kind: context.serves(before.stageId) ? "resume" : "skip" }))
      .exhaustive()
  );
}

/** A plan the sweep runs, with the stages where its task is admitted in this sweep. */
export interface Chosen {
  readonly plan: Plan;
  readonly admitted: Set<string>;
}

/** The runnable plans that their stage admits in this sweep (`maxTasksPerStage`), in order. */
export function limitPerStage(plans: readonly Plan[], admission: SweepAdmission): Chosen[] {
  const out: Chosen[] = [];
  for (const plan of plans) {
    if (plan.kind === "skip") continue;
    const admitted = new Set<string>();
    if (admission.admit(plan.before.stageId, admitted)) out.push({ plan, admitted });
  }
  return out;
}
