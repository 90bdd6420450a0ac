/**
 * What a stage runner's sweeps produce: the move that records a task's
 * report in the task source, and the report of a whole `runAsync` call.
 *
 * Invariants: a move carries the task's stage, status and data as its run
 * reports them (the run is the truth, the source only mirrors it); a
 * failed task's error is written as `Name: message`.
 *
 * @module
 */
import type { StageRunReport } from "./stage-run-options.js";
import type { TaskReport } from "./task-report.js";
import type { TaskMove } from "./task-source.js";

/** The move that records `report` in a task source. */
export function moveOf(report: TaskReport, from: string | undefined, at: number): TaskMove {
  return {
    taskId: report.taskId,
    from,
    stageId: report.stageId,
    status: report.status,
    data: report.data,
    at,
    ...(report.pathway !== undefined && { pathway: report.pathway }),
    ...(report.assignee !== undefined && { assignee: report.assignee }),
    ...(report.error !== undefined && { error: `${report.error.name}: ${report.error.message}` }),
  };
}

/** What one runner did in a `runAsync` call (its own work, not other runners'). */
export interface RunnerWork {
  /** Task processings (a task processed at two sweeps counts twice). */
  processed: number;
  /** Moves this runner made and saved, by the stage the task left. */
  moves: Record<string, number>;
}

/** The report of a `runAsync` call: every task of the last sweep, and this runner's work. */
export function summarize(runId: string, sweeps: number, tasks: TaskReport[], work: RunnerWork = { processed: 0, moves: {} }): StageRunReport {
  const byStage: Record<string, number> = {};
  for (const t of tasks) byStage[t.stageId] = (byStage[t.stageId] ?? 0) + 1;
  return {
    runId,
    sweeps,
    tasks,
    byStage,
    completed: tasks.filter((t) => t.state === "completed").length,
    waiting: tasks.filter((t) => t.state === "waiting").length,
    failed: tasks.filter((t) => t.state === "failed"),
    queued: tasks.filter((t) => t.state === "queued").length,
    processed: work.processed,
    moves: { ...work.moves },
  };
}
