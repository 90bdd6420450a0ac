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
import { RunNotFoundError } from "../runner/errors.js";
import type { RunStore } from "../persistence/run-store.js";
import { resolveWait } from "../runner/resolve-wait.js";
import type { Clock } from "../core/clock.js";
import { nodeRecords } from "../state/node-table.js";
import { parseStageKey, statusAfterActions, type ActionPayload } from "./compile-workflow.js";
import { ActionNotAllowedError } from "./stage-errors.js";
import { actionsBefore, readTaskReport } from "./task-report.js";
import { taskRunId } from "./task-run-id.js";
import { allowedStatusActions } from "./task-status.js";
import { isHumanStage, pathwayNames, type Workflow } from "./workflow.js";

/** Options of {@link StageRunner.act}. */
export interface ActOptions {
  /** Who acts (required for `assign`). */
  readonly assignee?: string;
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

const ACT_OPTION_KEYS = optionKeys<ActOptions>({ assignee: true });

/** Records a person's action on a task (see `StageRunner.act`). */
export async function actOnTask(runner: ActHost, clock: Clock, runId: string, taskId: string, action: string, options: ActOptions = {}): Promise<ActResult> {
  const id = taskRunId(runId, taskId);
  if (typeof action !== "string" || action === "") throw new InvalidOptionError("action", "must be a non-empty string");
  if (options === null || typeof options !== "object") throw new InvalidOptionError("act options", "must be an object");
  assertKnownKeys("act", options, ACT_OPTION_KEYS);
  if (options.assignee !== undefined && (typeof options.assignee !== "string" || options.assignee === "")) {
    throw new InvalidOptionError("assignee", "must be a non-empty string");
  }
  const stored = await runner.store.load(id);
  if (!stored) throw new RunNotFoundError(id);
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
  const { status } = statusAfterActions(parsed.visit, actionsBefore(record, stage.id, parsed.visit, parsed.n));
  const allowed = [...pathwayNames(stage), ...allowedStatusActions(status)];
  if (!allowed.includes(action)) {
    throw new ActionNotAllowedError(taskId, stage.id, action, allowed, `stage "${stage.id}" (${stage.kind}) does not allow it while the task is ${status}`);
  }
  if (action === "assign" && options.assignee === undefined) throw new InvalidOptionError("assignee", 'is required for the action "assign"');
  const payload: ActionPayload = {
    action,
    at: clock.now(),
    ...(options.assignee !== undefined && { assignee: options.assignee }),
  };
  await resolveWait(id, key, payload, { store: runner.store });
  return { taskId, stageId: stage.id, action, key };
}
