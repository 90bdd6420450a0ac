/**
 * Driving one task's run for a sweep: start or resume the task's graph run
 * (with the inputs of a new task, or resolving a `again:` wait first),
 * give its window slot back while it waits out a retry backoff
 * (`sweep-window.ts`), wait for it to complete, wait, stay,
 * be parked or fail, then end the agent calls it started (abandoning, after
 * an abort, those that outlive `ABANDON_AFTER_MS`) and dispose of its
 * providers, count the moves it made and saved (read from the run's state
 * once it stopped, `task-moves.ts`: a move counts only once saved), and
 * read its report. Never rejects: a failure is the task's
 * report. A run another runner drives (`RunLockedError`) is reported
 * `busy`, its moves being that runner's.
 *
 * The run's engine events are listened to only where needed, since the
 * engine builds an event's payload only for a listener: `run:start` and
 * `node:wait` (whether a wait may hold an answer), `node:retry` (a
 * backoff gives the slot back) and, only after a retry, `node:start`.
 *
 * @module
 */
import type { Clock } from "../core/clock.js";
import { RunCancelledError } from "../engine/errors.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { RunLockedError } from "../persistence/errors.js";
import type { RunStore } from "../persistence/run-store.js";
import { GraphHasPendingWaits } from "../runner/errors.js";
import { resolveWait } from "../runner/resolve-wait.js";
import { run } from "../runner/run.js";
import type { RunOptions } from "../runner/run-options.js";
import type { RunState } from "../state/run-state.js";
import { ABANDON_AFTER_MS, AgentCalls, type AgentSlots } from "./agent-calls.js";
import type { WorkflowTaskInput, WorkflowTaskOutput } from "./compile-workflow.js";
import { ProviderScope } from "./providers.js";
import type { BackoffOptions, RetryOptions } from "../graph/retry-options.js";
import type { NodeExecutor } from "../engine/node-executor.js";
import { agentStagesOn } from "./stage-executor.js";
import type { StageEvents } from "./stage-events.js";
import type { RunConfig } from "./stage-run-config.js";
import type { SweepAdmission } from "./sweep-admission.js";
import type { WindowSlot } from "./sweep-window.js";
import type { RunnerWork } from "./sweep-results.js";
import type { Chosen } from "./task-plan.js";
import { isStored, lastSettleOrder, movesAfter, type TaskMoveMade } from "./task-moves.js";
import { readTaskReport, taskError, type TaskReport } from "./task-report.js";
import { taskRunId } from "./task-run-id.js";
import type { Workflow } from "./workflow.js";

/** A task run this runner drives now: what its agent bodies look up by run id. */
export interface Live {
  readonly scope: ProviderScope;
  readonly calls: AgentCalls;
  readonly runnerRunId: string;
  readonly admission: SweepAdmission;
  /** The stages where the task is admitted in this sweep. */
  readonly admitted: Set<string>;
  /** The task run's state as its engine has it (set once the run starts). */
  state?: () => RunState | undefined;
  /**
   * Whether a `due:` key of the run may hold a queue worker's answer, so that `admit` must look
   * (reading the run's state commits the engine's buffered records: an immer copy per agent call). False only for a run this drive started empty (not resumed) that has
   * opened no wait yet: an answer is delivered only to a wait the stored run shows open, and a run
   * started here shows a wait only after it opened one here (`node:wait`).
   */
  mayHoldAnswers: boolean;
}

/** What driving a task's run needs from its runner. */
export interface TaskDriveHost {
  readonly workflow: Workflow;
  readonly store: RunStore;
  readonly events: StageEvents;
  readonly clock: Clock;
  /** The runner options a task run takes. */
  readonly options: { readonly backoff?: BackoffOptions; readonly maxVisits?: number; readonly executor?: NodeExecutor };
  /** The task runs being driven, by graph run id. */
  readonly live: Map<string, Live>;
  serves(stageId: string): boolean;
}

/** The retry options of a batch's task runs, by the batch's options, with the backoff they were made with. */
const TASK_RETRY = new WeakMap<RunConfig, { readonly backoff: BackoffOptions | undefined; readonly retry: RetryOptions }>();

/**
 * The retry options every task run of a batch (`o`) gets: one object for
 * all of them, so the run-level and stage policies are resolved once, not
 * for each task (run-options.ts, activation-defs.ts `policyOf`).
 */
function taskRetry(o: RunConfig, backoff: BackoffOptions | undefined): RetryOptions {
  const known = TASK_RETRY.get(o);
  if (known !== undefined && known.backoff === backoff && known.retry.maxAttempts === o.numRetries + 1) return known.retry;
  const retry: RetryOptions = { maxAttempts: o.numRetries + 1, ...(backoff !== undefined && { backoff }) };
  TASK_RETRY.set(o, { backoff, retry });
  return retry;
}

/**
 * Drives one task's run until it completes, waits, stays, is parked or
 * fails; never rejects. `worked`: an agent was called, a move made, or the
 * task failed (not so for a run another runner had finished meanwhile).
 */
export async function driveTask(
  host: TaskDriveHost,
  o: RunConfig,
  graph: TaskGraph<WorkflowTaskInput, WorkflowTaskOutput>,
  slots: AgentSlots,
  chosen: Chosen,
  admission: SweepAdmission,
  work: RunnerWork,
  slot?: WindowSlot,
): Promise<{ report: TaskReport; worked: boolean }> {
  const { plan } = chosen;
  const clock = host.clock;
  const graphRunId = taskRunId(o.runId, plan.task.id);
  // Another call of this runner drives the task's run now (two runAsync calls at once on one run id): it is busy.
  // Going on would replace that drive's entry (its agent slots, cap and providers) and then delete it.
  if (host.live.has(graphRunId)) return { report: { ...plan.before, state: "busy" }, worked: false };
  const scope = new ProviderScope();
  const calls = new AgentCalls(slots, o.signal, graphRunId);
  // A task the plan found without a run starts one here; any other may hold answers (see Live.mayHoldAnswers).
  const live: Live = { scope, calls, runnerRunId: o.runId, admission, admitted: chosen.admitted, mayHoldAnswers: plan.kind !== "start" };
  host.live.set(graphRunId, live);
  let state: RunState | undefined;
  let error: unknown;
  // Whether the run ran here (not so for a run another runner had finished meanwhile), the last settle
  // order it had before (a resumed run's), and whether its end was saved.
  let started = false;
  let settledBefore = 0;
  let ended = false;
  try {
    if (plan.kind === "again" && plan.key !== undefined) await resolveWait(graphRunId, plan.key, { at: clock.now() }, { store: host.store });
    const inputs: WorkflowTaskInput | undefined =
      plan.kind === "start"
        ? {
            id: plan.task.id,
            data: plan.task.data ?? {},
            ...(plan.task.assignee !== undefined && { assignee: plan.task.assignee }),
            ...(plan.before.stageId !== host.workflow.start && { stageId: plan.before.stageId }),
          }
        : undefined;
    // Set field by field, not spread in: each spread of a condition is a call into the runtime, once per task.
    const runOptions: { -readonly [K in keyof RunOptions]: RunOptions[K] } = {
      runId: graphRunId,
      store: host.store,
      maxConcurrency: Infinity,
      retry: taskRetry(o, host.options.backoff),
      maxVisits: host.options.maxVisits ?? 100,
      clock,
    };
    if (host.options.executor !== undefined) runOptions.executor = agentStagesOn(host.options.executor, host.workflow, graph);
    if (o.signal !== undefined) runOptions.signal = o.signal;
    const handle = run(graph, inputs, runOptions);
    live.state = () => handle.state;
    // A run another runner made meanwhile is resumed (with what it holds); a wait opened here may be answered.
    handle.events.on("run:start", (e) => {
      started = true;
      if (!e.resumed) return;
      live.mayHoldAnswers = true;
      // The moves of this drive are those settled from now on.
      settledBefore = lastSettleOrder(handle.state);
    });
    handle.events.on("node:wait", () => {
      live.mayHoldAnswers = true;
    });
    if (slot !== undefined) {
      // A retry backoff holds no window slot (sweep-window.ts); the next attempt's start takes one again.
      const wake = (): void => {
        slot.wake();
        handle.events.off("node:start", wake);
      };
      handle.events.on("node:retry", () => {
        slot.rest();
        if (handle.events.listenerCount("node:start") === 0) handle.events.on("node:start", wake);
      });
    }
    try {
      await handle.result();
      ended = true;
    } catch (err) {
      // A run that waits reports a failed final write instead of waiting: its end was saved.
      ended = err instanceof GraphHasPendingWaits;
      if (!ended && !(err instanceof RunCancelledError)) error = err;
    }
    state = handle.state;
  } catch (err) {
    error = err;
  } finally {
    // Every agent call this task started ends (or, after an abort, is abandoned) before its providers go.
    // Most tasks have none running by now: no wait, no closure for the warning (a task's fixed cost).
    if (calls.running > 0) {
      await calls.ended(clock, ABANDON_AFTER_MS, (n) => {
        const message = `${n} agent call${n === 1 ? "" : "s"} of task "${plan.task.id}" did not end within ${ABANDON_AFTER_MS} ms of the runner's abort; abandoned (their signal is aborted)`;
        host.events.emit("warning", { runId: o.runId, at: clock.now(), taskId: plan.task.id, message });
      });
    }
    host.live.delete(graphRunId);
    if (!scope.disposeIfIdle()) {
      for (const e of await scope.dispose()) {
        host.events.emit("warning", { runId: o.runId, at: clock.now(), taskId: plan.task.id, message: `a provider's dispose threw: ${String(e)}`, error: e });
      }
    }
  }
  // Another runner drives this task's run right now: its moves are that runner's to report.
  if (error instanceof RunLockedError) return { report: { ...plan.before, state: "busy" }, worked: false };
  let moves: TaskMoveMade[] = [];
  if (state !== undefined && started) {
    moves = movesAfter(state, settledBefore, host.workflow, ended);
    // A run stopped between a move and its target: its store says which moves were saved (task-moves.ts).
    if (!moves.every((m) => m.saved)) moves = await savedOf(host, graphRunId, moves);
  }
  for (const m of moves) {
    work.moves[m.from] = (work.moves[m.from] ?? 0) + 1;
    if (host.events.listenerCount("task:move") > 0) {
      host.events.emit("task:move", { runId: o.runId, at: m.at, taskId: plan.task.id, from: m.from, to: m.to, pathway: m.pathway, visit: m.visit });
    }
  }
  let report: TaskReport;
  if (state) report = readTaskReport(plan.task.id, state, host.workflow);
  else report = { ...plan.before, state: "failed", error: taskError(error) };
  if (error !== undefined && report.state !== "failed") report = { ...report, state: "failed", error: taskError(error) };
  if (report.state === "queued" && host.serves(report.stageId)) report = { ...report, state: "deferred" };
  if (host.events.listenerCount("task:end") > 0) host.events.emit("task:end", { runId: o.runId, at: clock.now(), task: report });
  return { report, worked: moves.length > 0 || calls.started > 0 || report.state === "failed" };
}

/**
 * Of the moves this drive made (`task-moves.ts`), those that are saved: known saved from the run's
 * state, or else found in the stored run (a run stopped between a move and its target).
 */
async function savedOf(host: TaskDriveHost, graphRunId: string, found: readonly TaskMoveMade[]): Promise<TaskMoveMade[]> {
  const stored = (await host.store.load(graphRunId).catch(() => undefined))?.state;
  return found.filter((m) => m.saved || isStored(stored, m));
}
