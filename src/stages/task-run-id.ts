/**
 * The run id of one task's run in a stage runner: `<runId>.<taskId>`, in
 * the runner's store.
 *
 * Invariants: both parts are valid (a run id, a task id) and so is the
 * whole (a task run id is a run id like any other).
 *
 * @module
 */
import { assertRunId } from "../core/run-id.js";
import { assertTaskId } from "./task-source.js";

/** The run id of one task's run: `<runId>.<taskId>`. */
export function taskRunId(runId: string, taskId: string): string {
  assertRunId(runId);
  assertTaskId(taskId);
  const id = `${runId}.${taskId}`;
  assertRunId(id);
  return id;
}
