/**
 * Where a task stands, read from its run in the store: its stage, status,
 * data and state. The run is the durable truth; this module only reads
 * it (pure functions over `RunState`), so the runner, `act` and the CLI
 * agree on what a task's position is.
 *
 * @module
 */
import { errorFromRecord } from "../state/error-record.js";
import { getNode, nodeRecords } from "../state/node-table.js";
import type { NodeRecord } from "../state/records.js";
import type { RunState } from "../state/run-state.js";
import type { AgentOutcome } from "./agents.js";
import type { TaskData } from "./stage-task.js";
import { statusAfterActions, type ActionPayload, type CarriedTask, type QueuedAnswer, type WorkflowTaskOutput } from "./compile-workflow.js";
import { parseStageKey, stageKey } from "./stage-keys.js";
import { statusOnEntry, type TaskStatus } from "./task-status.js";
import type { Workflow } from "./workflow.js";

/** Every state a task can be in after a sweep. */
export const TASK_STATES = ["new", "completed", "waiting", "staying", "failed", "interrupted", "deferred", "queued", "busy"] as const;

/**
 * Where a task's processing stands:
 * `new` (never processed), `completed` (in a final stage), `waiting` (for
 * a person's action), `staying` (its agent answered undefined: asked
 * again at the next sweep), `failed` (see `error`), `interrupted` (its run
 * stopped part way: a crash or a cancel; resumed at the next sweep),
 * `deferred` (left for a later sweep by `maxTasksPerStage`), `queued`
 * (parked at an agent stage this runner does not serve, or whose cap was
 * reached: it waits, durably, for a runner that serves the stage or a
 * queue worker's result, `runner.apply`; `runner.tasksAt` lists it),
 * `busy` (another runner is processing it now).
 */
export type TaskState = (typeof TASK_STATES)[number];

/**
 * The error that caused a reported error (a `NodeFailedError`'s last attempt's error).
 *
 * @example
 * ```ts
 * for (const f of report.failed) if (f.error?.cause?.code === "UNKNOWN_PATHWAY") console.log(f.taskId, f.error.cause.message);
 * ```
 */
export interface TaskErrorCause {
  /** Its class name, such as `UnknownPathwayError`. */
  readonly name: string;
  /** Its code, such as `UNKNOWN_PATHWAY` (taskloom errors always have one). */
  readonly code?: string;
  readonly message: string;
}

/**
 * An error as reported for a task. `code` is the error's own code
 * (`NODE_FAILED` when an agent ran out of attempts); `cause` names what
 * made it fail, so `error.cause?.code === "UNKNOWN_PATHWAY"` tells an
 * agent that chose a pathway its stage does not have.
 */
export interface TaskError {
  readonly name: string;
  readonly code?: string;
  readonly message: string;
  /** The error's cause, when it has one (an `Error`, or an error rebuilt from the store). */
  readonly cause?: TaskErrorCause;
}

/** One task's position. */
export interface TaskReport {
  readonly taskId: string;
  /** The stage it is in. */
  readonly stageId: string;
  /** Its status there. */
  readonly status: TaskStatus;
  readonly state: TaskState;
  /** Its data, with agents' updates. */
  readonly data: TaskData;
  /** The last pathway it took. */
  readonly pathway?: string;
  /** Who has it (or acted last). */
  readonly assignee?: string;
  /** Why it failed. */
  readonly error?: TaskError;
  /** The key of the wait it is in (waiting or staying). */
  readonly waitKey?: string;
}

function errorParts(error: unknown): TaskErrorCause {
  const e = error as { name?: unknown; code?: unknown; message?: unknown };
  return {
    name: typeof e?.name === "string" ? e.name : "Error",
    ...(typeof e?.code === "string" && { code: e.code }),
    message: typeof e?.message === "string" ? e.message : String(error),
  };
}

/** A short error for a report, from an `ErrorRecord`, an `Error` or any thrown value, with its cause's name and code. */
export function taskError(error: unknown): TaskError {
  const cause = typeof error === "object" && error !== null ? (error as { cause?: unknown }).cause : undefined;
  return { ...errorParts(error), ...(cause !== undefined && cause !== null && { cause: errorParts(cause) }) };
}

/** The task as it arrived at an activation: the output of the routing activation that chose it, else the inputs. */
function carriedOf(record: NodeRecord | undefined, state: RunState): CarriedTask {
  const from = record?.trigger?.from;
  const value = from !== undefined ? (getNode(state.nodes, from)?.output as CarriedTask | undefined) : undefined;
  if (value !== undefined) return value;
  const inputs = state.meta.inputs as { id: string; data?: TaskData; assignee?: string };
  return { id: inputs.id, data: inputs.data ?? {}, ...(inputs.assignee !== undefined && { assignee: inputs.assignee }) };
}

/**
 * The data of an agent activation after the updates its answers made: for each wait number, the
 * agent's journaled answer (`agent-<n>` step) or a queue worker's answer taken at `due:<stage>:<visit>:<n>`.
 */
function dataAfterSteps(record: NodeRecord | undefined, data: TaskData): TaskData {
  let out = data;
  for (let n = 1; ; n++) {
    const updates = answerAt(record, n)?.updates;
    if (updates === undefined) return out;
    if (Object.keys(updates).length > 0) out = { ...out, ...updates };
  }
}

/**
 * The data of an agent activation: a succeeded one's output holds it (its answer with a pathway is
 * saved with the move, not as a step of its own: compile-workflow.ts); else after its answers' updates.
 */
function agentData(record: NodeRecord, data: TaskData): TaskData {
  if (record.status === "succeeded") {
    const output = record.output as CarriedTask | undefined;
    if (output?.data !== undefined) return output.data;
  }
  return dataAfterSteps(record, data);
}

/** The answer an agent activation took at wait number `n`: its agent's (journaled step), else a queue worker's. */
function answerAt(record: NodeRecord | undefined, n: number): { readonly updates: TaskData } | undefined {
  const step = record?.steps?.[`agent-${n}`] as AgentOutcome | undefined;
  if (step !== undefined) return step;
  if (record === undefined) return undefined;
  const key = stageKey({ kind: "due", stageId: record.nodeId, visit: record.visit ?? 1, n });
  return record.waits?.[key]?.resolved?.payload as QueuedAnswer | undefined;
}

/** The last activation matching `where`: by settle order when both settled, else by start time, then visit. */
function latest(records: readonly NodeRecord[], where: (r: NodeRecord) => boolean): NodeRecord | undefined {
  let best: NodeRecord | undefined;
  const later = (a: NodeRecord, b: NodeRecord): boolean => {
    if (a.settleOrder !== undefined && b.settleOrder !== undefined) return a.settleOrder > b.settleOrder;
    if ((a.startedAt ?? 0) !== (b.startedAt ?? 0)) return (a.startedAt ?? 0) > (b.startedAt ?? 0);
    return (a.visit ?? 1) > (b.visit ?? 1);
  };
  for (const r of records) if (where(r) && (!best || later(r, best))) best = r;
  return best;
}

/** The task as its final stage ended it, from the stage's record (for a run stored without its outputs). */
function finalOf(state: RunState, workflow: Workflow): WorkflowTaskOutput {
  const records = [...nodeRecords(state.nodes)];
  const final = latest(records, (r) => r.status === "succeeded" && workflow.stage(r.nodeId)?.kind === "final");
  const output = final?.output as WorkflowTaskOutput | undefined;
  if (output !== undefined) return output;
  const carried = carriedOf(final, state);
  return {
    id: carried.id,
    stageId: final?.nodeId ?? workflow.stages.find((s) => s.kind === "final")?.id ?? workflow.start,
    status: "COMPLETED",
    data: carried.data,
    ...(carried.pathway !== undefined && { pathway: carried.pathway }),
    ...(carried.assignee !== undefined && { assignee: carried.assignee }),
  };
}

/** Reads a task's position from its stored run. */
export function readTaskReport(taskId: string, state: RunState, workflow: Workflow): TaskReport {
  const { meta } = state;
  if (meta.status === "succeeded") {
    // A run stored without its outputs (`outputsDurable: false`: the engine could not keep them) is read from its final stage.
    const out = (meta.outputs as WorkflowTaskOutput | undefined) ?? finalOf(state, workflow);
    return {
      taskId,
      stageId: out.stageId,
      status: "COMPLETED",
      state: "completed",
      data: out.data,
      ...(out.pathway !== undefined && { pathway: out.pathway }),
      ...(out.assignee !== undefined && { assignee: out.assignee }),
    };
  }
  // Stage activations only (not the entry node).
  const records = [...nodeRecords(state.nodes)].filter((r) => workflow.stage(r.nodeId)?.id === r.nodeId);
  const waitKey = meta.status === "waiting" ? meta.waits.map((w) => w.key).find((k) => parseStageKey(k) !== undefined) : undefined;
  const parsed = waitKey !== undefined ? parseStageKey(waitKey) : undefined;
  if (waitKey !== undefined && parsed !== undefined) {
    const record = records.find((r) => r.waits?.[waitKey] !== undefined);
    const carried = carriedOf(record, state);
    if (parsed.kind === "due") {
      const lastError = lastQueuedAnswer(record, parsed.stageId, parsed.visit, parsed.n)?.error;
      return {
        taskId,
        stageId: parsed.stageId,
        status: statusOnEntry(false, parsed.visit),
        state: "queued",
        data: dataAfterSteps(record, carried.data),
        ...(carried.pathway !== undefined && { pathway: carried.pathway }),
        ...(lastError != null && { error: { name: "JobFailed", message: lastError } }),
        waitKey,
      };
    }
    if (parsed.kind === "again") {
      return {
        taskId,
        stageId: parsed.stageId,
        status: statusOnEntry(false, parsed.visit),
        state: "staying",
        data: dataAfterSteps(record, carried.data),
        ...(carried.pathway !== undefined && { pathway: carried.pathway }),
        waitKey,
      };
    }
    const actions = actionsBefore(record, parsed.stageId, parsed.visit, parsed.n);
    const { status, assignee } = statusAfterActions(parsed.visit, actions);
    return {
      taskId,
      stageId: parsed.stageId,
      status,
      state: "waiting",
      data: actions.reduce<TaskData>((d, a) => (a.data !== undefined ? { ...d, ...a.data } : d), carried.data),
      ...(carried.pathway !== undefined && { pathway: carried.pathway }),
      ...(assignee !== undefined && { assignee }),
      waitKey,
    };
  }
  // Not settled: the activation that failed, was running, or was about to run; else the last one that moved the task.
  const open = latest(records, (r) => r.status !== "succeeded" && r.status !== "skipped" && r.status !== "pending" && r.startedAt !== undefined);
  const moved = latest(records, (r) => r.status === "succeeded");
  // The last saved move took the task to an activation that has not started yet: the task is there.
  const arrived = moved ? records.find((r) => r.trigger?.from === moved.id && r.status !== "succeeded" && r.status !== "skipped") : undefined;
  const at = open ?? arrived ?? moved;
  const stageId = at?.nodeId ?? workflow.start;
  const carried = carriedOf(at, state);
  const visit = at?.visit ?? 1;
  const stage = workflow.stage(stageId);
  const failed = meta.status === "failed";
  const error = failed && meta.error ? taskError(errorFromRecord(meta.error)) : undefined;
  return {
    taskId,
    stageId,
    status: statusOnEntry(stage?.kind === "final", visit),
    state: failed ? "failed" : "interrupted",
    data: at && at.nodeId === stageId && stage?.kind === "agent" ? agentData(at, carried.data) : carried.data,
    ...(carried.pathway !== undefined && { pathway: carried.pathway }),
    ...(error && { error }),
  };
}

/** The last queue worker's answer an agent activation took before its wait number `n` (undefined: none, or the agent answered last). */
function lastQueuedAnswer(record: NodeRecord | undefined, stageId: string, visit: number, n: number): QueuedAnswer | undefined {
  if (n <= 1 || record?.steps?.[`agent-${n - 1}`] !== undefined) return undefined;
  return record?.waits?.[stageKey({ kind: "due", stageId, visit, n: n - 1 })]?.resolved?.payload as QueuedAnswer | undefined;
}

/** The actions a human activation took before its wait number `n`. */
export function actionsBefore(record: NodeRecord | undefined, stageId: string, visit: number, n: number): ActionPayload[] {
  const out: ActionPayload[] = [];
  for (let i = 1; i < n; i++) {
    const payload = record?.waits?.[`act:${stageId}:${visit}:${i}`]?.resolved?.payload as ActionPayload | undefined;
    if (payload) out.push(payload);
  }
  return out;
}
