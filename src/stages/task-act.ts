/**
 * A person's action on a task waiting at a human stage (`StageRunner.act`):
 * a pathway of the stage (`approve`, `reject`, `submit`, …) or a status
 * action (`assign` with an assignee, `release`, `skip`), delivered to the
 * task run's open wait; the task moves at the runner's next sweep.
 *
 * Invariants: everything is checked before anything is written (a refused
 * action leaves the store as it was); at most one action is pending per
 * wait; the allowed actions are the stage's pathways plus the status
 * actions its current status allows.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import type { RunStore } from "../persistence/run-store.js";
import { deserialize, serialize } from "../persistence/serialization.js";
import { underDeliveryLease, writeToInbox } from "./task-apply.js";
import type { Clock } from "../core/clock.js";
import { nodeRecords } from "../state/node-table.js";
import { statusAfterActions, type ActionPayload } from "./compile-workflow.js";
import { parseStageKey } from "./stage-keys.js";
import { ActionNotAllowedError } from "./stage-errors.js";
import { actionsBefore, readTaskReport } from "./task-report.js";
import { taskRunId } from "./task-run-id.js";
import { allowedStatusActions, isStatusAction } from "./task-status.js";
import { pathwayName } from "./stage-names.js";
import type { TaskData } from "./stage-task.js";
import { isDurable } from "../core/value-codec.js";
import { isHumanStage, pathwayNames, type Workflow } from "./workflow.js";

/** Options of {@link StageRunner.act}. */
export interface ActOptions {
  /** Who acts (required for `assign`, and for a pathway action at a stage with `requireAssignee` unless the task is assigned). */
  readonly assignee?: string;
  /**
   * Data saved with the action (a reviewer's labels, a comment): journaled with the action, merged
   * into the task's data, seen by the next stage and written to the source with the move.
   */
  readonly data?: TaskData;
}

/** What {@link StageRunner.act} recorded. */
export interface ActResult {
  readonly taskId: string;
  readonly stageId: string;
  readonly action: string;
  /** The wait the action was delivered to. */
  readonly key: string;
}

/** What an action needs from its runner (the store is opened on first use, after the arguments are checked). */
export interface ActHost {
  readonly store: RunStore;
  readonly workflow: Workflow;
}

const ACT_OPTION_KEYS = optionKeys<ActOptions>({ assignee: true, data: true });

/** Records a person's action on a task (see `StageRunner.act`): checked and written under the run's delivery lease. */
export async function actOnTask(runner: ActHost, clock: Clock, runId: string, taskId: string, action: string, options: ActOptions = {}): Promise<ActResult> {
  const id = taskRunId(runId, taskId);
  if (typeof action !== "string" || action === "") throw new InvalidOptionError("action", "must be a non-empty string");
  if (options === null || typeof options !== "object") throw new InvalidOptionError("act options", "must be an object");
  assertKnownKeys("act", options, ACT_OPTION_KEYS);
  if (options.assignee !== undefined && (typeof options.assignee !== "string" || options.assignee === "")) {
    throw new InvalidOptionError("assignee", "must be a non-empty string");
  }
  if (options.data !== undefined && !isDurableData(options.data)) {
    throw new InvalidOptionError("data", "must be a plain object of JSON-like values (it is saved with the action)");
  }
  // The checks and the write are one step under the run's short delivery lease: of two actions at once,
  // one is recorded and the other sees it (refused below), never silently replaced.
  return underDeliveryLease(runner.store, id, async (stored, lease) => {
    const report = readTaskReport(taskId, stored.state, runner.workflow);
    const key = report.waitKey;
    const parsed = key !== undefined ? parseStageKey(key) : undefined;
    const stage = runner.workflow.stage(report.stageId);
    if (key === undefined || parsed?.kind !== "act" || !stage || !isHumanStage(stage)) {
      const why =
        report.state === "completed"
          ? `it is completed, in final stage "${report.stageId}"`
          : stage && !isHumanStage(stage)
            ? `it is in stage "${report.stageId}", a ${stage.kind} stage, which takes no actions from people`
            : `it is not waiting for a person (${report.state}, in stage "${report.stageId}")`;
      throw new ActionNotAllowedError(taskId, report.stageId, action, [], why);
    }
    const pending = stored.state.meta.inbox?.[key]?.payload as ActionPayload | undefined;
    if (pending !== undefined) {
      throw new ActionNotAllowedError(
        taskId,
        stage.id,
        action,
        [],
        `the action "${pending.action}" is already recorded and will be applied at the runner's next sweep`,
      );
    }
    const record = [...nodeRecords(stored.state.nodes)].find((r) => r.waits?.[key] !== undefined);
    const { status, assignee } = statusAfterActions(parsed.visit, actionsBefore(record, stage.id, parsed.visit, parsed.n));
    const allowed = [...pathwayNames(stage), ...allowedStatusActions(status)];
    // A pathway may be chosen by its uuid too; the action is recorded by name.
    const name = isStatusAction(action) ? action : (pathwayName(stage, action) ?? action);
    if (!allowed.includes(name)) {
      throw new ActionNotAllowedError(taskId, stage.id, action, allowed, `stage "${stage.id}" (${stage.kind}) does not allow it while the task is ${status}`);
    }
    if (name === "assign" && options.assignee === undefined) throw new InvalidOptionError("assignee", 'is required for the action "assign"');
    if (stage.requireAssignee === true && !isStatusAction(name) && options.assignee === undefined && assignee === undefined) {
      throw new ActionNotAllowedError(
        taskId,
        stage.id,
        action,
        allowedStatusActions(status),
        `stage "${stage.id}" requires the task to be assigned before it moves on: assign it first (act(…, "assign", { assignee })) or pass { assignee }`,
      );
    }
    const payload: ActionPayload = {
      action: name,
      at: clock.now(),
      ...(options.assignee !== undefined && { assignee: options.assignee }),
      // A copy through the store's own round trip: the caller may go on changing its object.
      ...(options.data !== undefined && { data: deserialize<TaskData>(serialize(options.data)) }),
    };
    await writeToInbox(runner.store, stored, lease, key, payload, payload.at);
    return { taskId, stageId: stage.id, action: name, key };
  });
}

/** True for a plain object whose values the store can keep (no functions, class instances or cycles). */
function isDurableData(value: unknown): value is TaskData {
  return typeof value === "object" && value !== null && !Array.isArray(value) && isDurable(value);
}
