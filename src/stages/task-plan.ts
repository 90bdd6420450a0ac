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
 * | parked at an agent stage (`due:` key) | `resume` when a queue worker's answer was applied (any runner), or when this runner serves the stage; else `skip` |
 * | failed or cancelled | `resume` with fresh attempts, when its retry is due (`failed-retries.ts`) |
 * | running or pending (a crash, or another runner drives it) | `resume` |
 *
 * Whatever the status, a task at an agent stage this runner does not
 * serve is left (`skip`) for a runner that serves the stage or a queue
 * worker, unless a queue worker's answer waits to be taken.
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
import { parseStageKey } from "./stage-keys.js";
import { UnknownStageError } from "./stage-errors.js";
import type { SweepAdmission } from "./sweep-admission.js";
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
  /** A parked task with a queue worker's answer: resumed to take it, whoever serves the stage (no admission). */
  readonly answered?: boolean;
  /** A task its source says COMPLETED and that has no run: its report is the source's word, nothing to write back. */
  readonly sourceOnly?: boolean;
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
      return { task, before: { ...fresh, stageId: task.stageId ?? fresh.stageId, status: "COMPLETED", state: "completed" }, kind: "skip", sourceOnly: true };
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
        if (key !== undefined && parseStageKey(key)?.kind === "due") {
          // Parked at an agent stage with a queue worker's answer: any runner resumes it to take the answer (no agent is called).
          if (meta.inbox?.[key] !== undefined) return { task, before, kind: "resume", answered: true };
          // Else the runners that serve the stage resume the run and call the agent (the key is never resolved).
          return { task, before, kind: context.serves(before.stageId) ? "resume" : "skip" };
        }
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

/**
 * The runnable plans that their stage admits in this sweep (`maxTasksPerStage`), in order, and,
 * without admission, the plans that take a queue worker's answer and the new tasks at a stage this
 * runner does not serve (started only to park them there).
 */
export function limitPerStage(plans: readonly Plan[], admission: SweepAdmission): Chosen[] {
  const out: Chosen[] = [];
  for (const plan of plans) {
    if (plan.kind === "skip") continue;
    const admitted = new Set<string>();
    // A new task at a stage this runner does not serve is still started: it parks there at once, durably (listed by tasksAt).
    const parkAtOnce = plan.kind === "start" && !admission.serves(plan.before.stageId);
    if (plan.answered === true || parkAtOnce || admission.admit(plan.before.stageId, admitted)) out.push({ plan, admitted });
  }
  return out;
}
