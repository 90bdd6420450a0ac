/**
 * Reading a runner run's tasks from the store, without a sweep:
 * `runner.tasks(runId, filter)` lists and filters them (by stage, status,
 * state, assignee, id), `runner.tasksAt(stage, { runId, limit })` lists the
 * tasks due at an agent stage for a queue, in batches, with the JSON spec
 * a job handler takes.
 *
 * A runner run's tasks are the stored runs `<runId>.<taskId>` of the
 * workflow's graph; a task the runner has not seen yet (still only in the
 * source) is not listed. Reading never writes and never takes a lease.
 *
 * Invariants: results are ordered by task id, so `after` pages through a
 * run without gaps or repeats while tasks do not change; a task is due at
 * a stage while its run waits at the stage's open `due:` key (parked there) with no
 * result delivered yet, and its `key` names that wait, so a result made
 * for one visit can never be applied to another.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { assertRunId } from "../core/run-id.js";
import { valueText } from "../core/text.js";
import { InvalidOptionError } from "../errors.js";
import type { RunStore } from "../persistence/run-store.js";
import { parseStageKey } from "./stage-keys.js";
import { nameList } from "./stage-errors.js";
import type { TaskData } from "./stage-task.js";
import { TASK_STATES, readTaskReport, type TaskReport, type TaskState } from "./task-report.js";
import { assertTaskId, isTaskId } from "./task-source.js";
import { taskRunId } from "./task-run-id.js";
import { TASK_STATUSES, type TaskStatus } from "./task-status.js";
import type { Stage, Workflow } from "./workflow.js";

/**
 * A filter of {@link StageRunner.tasks}; every field given must match.
 *
 * @example
 * ```ts
 * await runner.tasks("labeling-1", { stage: "review", status: ["NEW", "REOPENED"] });
 * ```
 */
export interface TaskFilter {
  /** Tasks in this stage (id, title or uuid). */
  readonly stage?: string;
  /** Tasks with this status (or any of these). */
  readonly status?: TaskStatus | readonly TaskStatus[];
  /** Tasks in this processing state (or any of these): `waiting`, `queued`, `failed`, … */
  readonly state?: TaskState | readonly TaskState[];
  /** Tasks assigned to this person. */
  readonly assignee?: string;
  /** This task (or these). */
  readonly id?: string | readonly string[];
}

/** Options of {@link StageRunner.tasksAt}. */
export interface TasksAtOptions {
  /** The runner run id. */
  readonly runId: string;
  /** At most this many tasks (one batch). @default 100 */
  readonly limit?: number;
  /** Only tasks whose id sorts after this one: the next batch after the last task of the previous one. */
  readonly after?: string;
}

/**
 * A task due at an agent stage, as a queue producer enqueues it.
 *
 * @example
 * ```ts
 * for (const due of await runner.tasksAt("pre-label", { runId: "labeling-1", limit: 100 })) {
 *   await queue.add("pre-label", due.spec, { jobId: due.jobId }); // the same task and visit is enqueued once
 * }
 * ```
 */
export interface DueTask<D extends object = TaskData> {
  readonly taskId: string;
  /** The agent stage it is due at. */
  readonly stageId: string;
  /** Its data, with the updates made so far. */
  readonly data: D;
  /** Its visit to the stage (loops count up). */
  readonly visit: number;
  /** The wait a result for it is applied to; job handlers echo it in their result. */
  readonly key: string;
  /**
   * The random mark of the task's run (`RunMeta.instance`): a run of the task's id deleted and started again has
   * another, so a result for the deleted one is refused. Absent for a task run stored before the mark was kept.
   */
  readonly instance?: string;
  /** A job id unique to this task, visit and wait, and to the task's run: enqueue under it and a listed task is queued once. */
  readonly jobId: string;
  /** The JSON task spec the stage's job handler takes (`{ id, data, stageId, key, instance }`). */
  readonly spec: string;
}

const FILTER_KEYS = optionKeys<TaskFilter>({ stage: true, status: true, state: true, assignee: true, id: true });
const TASKS_AT_KEYS = optionKeys<TasksAtOptions>({ runId: true, limit: true, after: true });

/** The stage with this id, title or uuid, or an `InvalidOptionError` listing the stages. */
export function stageNamed(workflow: Workflow, stage: unknown, what: string): Stage {
  const found = typeof stage === "string" ? workflow.stage(stage) : undefined;
  if (!found) {
    throw new InvalidOptionError(
      what,
      `must name a stage of workflow "${workflow.name}" (got ${valueText(stage)}; stages: ${nameList(workflow.stages.map((s) => s.id))})`,
    );
  }
  return found;
}

function listOf<T extends string>(value: T | readonly T[] | undefined, known: readonly string[], what: string): readonly T[] | undefined {
  if (value === undefined) return undefined;
  const list = (Array.isArray(value) ? value : [value]) as readonly T[];
  for (const v of list) if (!known.includes(v)) throw new InvalidOptionError(what, `must be one of ${nameList(known)} (got ${valueText(v)})`);
  return list;
}

/** The stored tasks of runner run `runId`, as task ids, sorted. */
async function storedTaskIds(store: RunStore, workflow: Workflow, runId: string, waitingAt?: string): Promise<string[]> {
  const prefix = `${runId}.`;
  const summaries = await store.list(waitingAt !== undefined ? { status: "waiting" } : {});
  // A summary lists its run's open waits: only runs waiting at the stage's job key are loaded.
  const due = (waits: readonly { readonly key: string }[]): boolean =>
    waitingAt === undefined ||
    waits.some((w) => {
      const parsed = parseStageKey(w.key);
      return parsed?.kind === "due" && parsed.stageId === waitingAt;
    });
  // A task id has no ".": `lab.v2.t1` is a task of run "lab.v2", not task "v2.t1" of run "lab".
  return summaries
    .filter((s) => s.runId.startsWith(prefix) && isTaskId(s.runId.slice(prefix.length)) && s.graphName === workflow.name && due(s.waits))
    .map((s) => s.runId.slice(prefix.length))
    .sort();
}

/** Lists a runner run's tasks matching `filter` (see `StageRunner.tasks`). */
export async function queryTasks(store: RunStore, workflow: Workflow, runId: string, filter: TaskFilter = {}): Promise<TaskReport[]> {
  assertRunId(runId);
  if (filter === null || typeof filter !== "object") throw new InvalidOptionError("tasks filter", "must be an object");
  assertKnownKeys("StageRunner.tasks", filter, FILTER_KEYS);
  const stage = filter.stage !== undefined ? stageNamed(workflow, filter.stage, "stage") : undefined;
  const statuses = listOf(filter.status, TASK_STATUSES, "status");
  const states = listOf(filter.state, TASK_STATES, "state");
  if (filter.assignee !== undefined && (typeof filter.assignee !== "string" || filter.assignee === "")) {
    throw new InvalidOptionError("assignee", "must be a non-empty string");
  }
  let ids: readonly string[];
  if (filter.id !== undefined) {
    const given: unknown = filter.id;
    if (typeof given !== "string" && !Array.isArray(given)) throw new InvalidOptionError("id", "must be a task id or a list of them");
    ids = typeof given === "string" ? [given] : (given as string[]);
    ids.forEach((id, i) => assertTaskId(id, `id[${i}]`));
    ids = [...new Set(ids)].sort();
  } else {
    ids = await storedTaskIds(store, workflow, runId);
  }
  const out: TaskReport[] = [];
  for (const taskId of ids) {
    const stored = await store.load(taskRunId(runId, taskId));
    if (!stored || stored.state.meta.graphName !== workflow.name) continue;
    const report = readTaskReport(taskId, stored.state, workflow);
    if (stage !== undefined && report.stageId !== stage.id) continue;
    if (statuses !== undefined && !statuses.includes(report.status)) continue;
    if (states !== undefined && !states.includes(report.state)) continue;
    if (filter.assignee !== undefined && report.assignee !== filter.assignee) continue;
    out.push(report);
  }
  return out;
}

/** Lists the tasks due at an agent stage (see `StageRunner.tasksAt`). */
export async function dueTasks(store: RunStore, workflow: Workflow, stageName: string, options: TasksAtOptions): Promise<DueTask[]> {
  const stage = stageNamed(workflow, stageName, "stage");
  if (stage.kind !== "agent") {
    const agents = workflow.stages.filter((s) => s.kind === "agent").map((s) => s.id);
    throw new InvalidOptionError("stage", `"${stage.id}" is a ${stage.kind} stage; tasks are due for a queue at agent stages (${nameList(agents)})`);
  }
  if (options === null || typeof options !== "object") throw new InvalidOptionError("tasksAt options", "must be an object with a runId");
  assertKnownKeys("StageRunner.tasksAt", options, TASKS_AT_KEYS);
  assertRunId(options.runId);
  const limit = options.limit ?? 100;
  if (!(Number.isInteger(limit) && limit >= 1)) throw new InvalidOptionError("limit", `must be a whole number of at least 1 (got ${valueText(limit)})`);
  if (options.after !== undefined && typeof options.after !== "string") throw new InvalidOptionError("after", "must be a task id");
  const runId = options.runId;
  const out: DueTask[] = [];
  for (const taskId of await storedTaskIds(store, workflow, runId, stage.id)) {
    if (out.length >= limit) break;
    if (options.after !== undefined && taskId <= options.after) continue;
    const stored = await store.load(taskRunId(runId, taskId));
    if (!stored || stored.state.meta.status !== "waiting") continue;
    const report = readTaskReport(taskId, stored.state, workflow);
    const key = report.waitKey;
    const parsed = key !== undefined ? parseStageKey(key) : undefined;
    if (key === undefined || parsed?.kind !== "due" || parsed.stageId !== stage.id) continue;
    // A result already delivered (not yet taken by a sweep): not due any more.
    if (stored.state.meta.inbox?.[key] !== undefined) continue;
    // The run's mark names the job and travels in the spec (echoed in the result): a queue that still holds the
    // job of a deleted run of this id never dedupes the new run's job with it, and `apply` refuses its result.
    const instance = stored.state.meta.instance;
    const marked = instance !== undefined;
    out.push({
      taskId,
      stageId: stage.id,
      data: report.data,
      visit: parsed.visit,
      key,
      ...(marked && { instance }),
      jobId: (marked ? [runId, taskId, key, instance] : [runId, taskId, key]).map(encodeURIComponent).join("/"),
      spec: JSON.stringify({ id: taskId, data: report.data, stageId: stage.id, key, ...(marked && { instance }) }),
    });
  }
  return out;
}
