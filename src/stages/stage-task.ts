/**
 * A task as agents and providers see it, in its own module so that
 * `agents.ts` and `providers.ts` both import it without importing each other.
 *
 * @module
 */
import type { TaskStatus } from "./task-status.js";

/** Task data: any JSON-like object. */
export type TaskData = Record<string, unknown>;

/**
 * A task as an agent (or provider) sees it.
 *
 * @example
 * ```ts
 * runner.stage("pre-label", async (task) => (task.data.text === "" ? "skip" : "review"));
 * ```
 */
export interface StageTask<D extends object = TaskData> {
  /** The task id. */
  readonly id: string;
  /** Its data, with every update agents made so far. */
  readonly data: D;
  /** The stage it is in. */
  readonly stageId: string;
  /** Its status in that stage. */
  readonly status: TaskStatus;
  /** Who has it, when a person was assigned. */
  readonly assignee?: string;
}
