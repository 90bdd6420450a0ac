/**
 * Task statuses, as annotation platforms name them, and the pure rules
 * that move a task between them. A status says where a task stands inside
 * its current stage; the stage says where it is in the workflow.
 *
 * - `NEW`: the task entered its stage for the first time.
 * - `REOPENED`: it entered its stage again (a review sent it back).
 * - `ASSIGNED`: a person took it (`assign` with an assignee).
 * - `RELEASED`: the person gave it back (`release`).
 * - `SKIPPED`: a person skipped it; it stays in the stage for someone else.
 * - `COMPLETED`: it reached a final stage.
 *
 * `assign`, `release` and `skip` are the status actions every human stage
 * allows besides its pathways; they change the status and never move the
 * task.
 *
 * @module
 */
import { match } from "ts-pattern";

/** Every task status. */
export const TASK_STATUSES = ["NEW", "ASSIGNED", "RELEASED", "REOPENED", "SKIPPED", "COMPLETED"] as const;

/** The status of a task within its stage. */
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** The actions every human stage allows besides its pathways: they change the status, not the stage. */
export const STATUS_ACTIONS = ["assign", "release", "skip"] as const;

/** A status action. */
export type StatusAction = (typeof STATUS_ACTIONS)[number];

/** True when `action` is a status action (`assign`, `release`, `skip`). */
export function isStatusAction(action: string): action is StatusAction {
  return (STATUS_ACTIONS as readonly string[]).includes(action);
}

/** True when `value` is a task status. */
export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === "string" && (TASK_STATUSES as readonly string[]).includes(value);
}

/** The status of a task that enters a stage on its `visit`-th visit (from 1). */
export function statusOnEntry(final: boolean, visit: number): TaskStatus {
  if (final) return "COMPLETED";
  return visit > 1 ? "REOPENED" : "NEW";
}

/** The status after a status action. */
export function statusAfter(action: StatusAction): TaskStatus {
  return match(action)
    .with("assign", () => "ASSIGNED" as const)
    .with("release", () => "RELEASED" as const)
    .with("skip", () => "SKIPPED" as const)
    .exhaustive();
}

/**
 * The status actions a task with `status` allows: `assign` always (to
 * take it or hand it to someone else), `release` only while assigned,
 * `skip` unless already skipped.
 */
export function allowedStatusActions(status: TaskStatus): StatusAction[] {
  return STATUS_ACTIONS.filter((a) =>
    match(a)
      .with("assign", () => true)
      .with("release", () => status === "ASSIGNED")
      .with("skip", () => status !== "SKIPPED")
      .exhaustive(),
  );
}
