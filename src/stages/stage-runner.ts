/**
 * Why this file is 533 lines (246 of them comments, this one 74; 287 of
 * code): it is the runner's public face and its sweep loop (plans, batches, source
 * writes), one concept. The class is the one entry users hold, and each
 * public method (`act`, `task`, `tasks`, `tasksAt`, `apply`, `cli`,
 * `toJobHandlers`) is a documented delegation of a few lines with its
 * TSDoc example, about half the file; the sweep loop that remains reads
 * and writes the same per-call state (reports, unwritten moves, retries,
 * the window) from plan to flush, and needs the runner's private agents,
 * options and live runs: moved out, it would take them all as a host
 * object, which the class already is. The work lives in its parts: driving
 * one task's run is in `task-drive.ts`; the options of a call
 * (`stage-run-config.ts`), the plan per task (`task-plan.ts`), people's
 * actions (`task-act.ts`), task run ids (`task-run-id.ts`), the moves a
 * task made and saved (`task-moves.ts`), source moves and the report
 * (`sweep-results.ts`), the pacing of sweeps (`sweep-pacing.ts`),
 * the stages it serves (`stage-serving.ts`), the per-stage cap of a sweep
 * (`sweep-admission.ts`), the task runs driven at once
 * (`sweep-window.ts`), retries of failed tasks (`failed-retries.ts`) and
 * the agent calls of a task under the abort signal (`agent-calls.ts`).
 * The twenty-ninth pass added about 45 lines to the sweep loop and the
 * constructor: a source that cannot be read at a later sweep is a warning
 * (`#fetch`), the catch-up write covers deferred tasks, and `clock` is
 * checked when the runner is made.
 *
 * `StageRunner`: runs many tasks through a compiled workflow, durably.
 *
 * Model. Each task is one graph run, with run id `<runId>.<taskId>`, in
 * the runner's store; the run is the durable truth of the task's
 * position (its activations, journaled agent answers, open waits). A
 * runner run (`runAsync({ tasks, runId })`) is a series of sweeps; a sweep
 * reads the task source, decides per task what to do from its stored run,
 * and processes the runnable tasks in batches of `batchSize`, writing one
 * batch of moves to the source per batch:
 *
 * | stored run | in this sweep |
 * | --- | --- |
 * | none | starts it where its source says it is, else at the start stage (unless the source says COMPLETED); at an agent stage this runner does not serve, only to park it there |
 * | succeeded | nothing: the task is in a final stage |
 * | waiting for a person (`act:` key) | resumed if `act` delivered an action, else left waiting |
 * | staying (`again:` key: the agent answered undefined) | the wait is resolved and the agent asked again |
 * | parked at an agent stage (`due:` key) | resumed to take a queue worker's result if `apply` delivered one (any runner, no agent called); else resumed by a runner that serves the stage, within its cap (its agent is called); else left (listed by `tasksAt`) |
 * | failed or cancelled | resumed with fresh attempts, at the first sweep of a call, then with a backoff |
 * | running (a crash) | resumed: saved moves are kept, agents whose answer was journaled are not asked again |
 *
 * One failed task never stops the others: each task run is awaited on its
 * own, and failures are collected into the report with their errors.
 * Agent calls of all tasks share one set of slots, so `maxConcurrency` bounds
 * agent calls runner-wide, while waits and retry backoffs hold no slot.
 * Within a batch, at most `4 × maxConcurrency` task runs (at least 32; the
 * whole batch with an executor) are driven at once, in batch order, a run
 * in a retry backoff holding no place (`sweep-window.ts`).
 * After the signal aborts, no agent call and no task run starts (a task
 * still waiting for its place keeps its planned report; `agent-calls.ts`), and a
 * task's processing ends only once the calls it started have ended.
 *
 * Serving a subset. A runner calls the agents of the stages it serves
 * (`serves`, or the stages with a registered agent); a task that reaches
 * another agent stage, or a stage whose `maxTasksPerStage` is reached in
 * this sweep, is parked there (a `due:` wait, saved with the run) until a
 * runner that serves the stage resumes it, or a queue worker's result is
 * applied to the wait (`tasksAt`, `apply`; see `task-apply.ts`): whichever
 * comes first moves the task, and the other finds it gone (an applied
 * result is taken, never followed by an agent call at the same wait; a
 * later result is stale). Each task run is driven by one
 * process at a time (the run's lease): a runner that finds a task's run
 * held by another reports it `busy` and leaves it.
 *
 * With `refreshEveryMs`, sweeps repeat on a fixed schedule (each starts
 * `refreshEveryMs` after the previous one started, at once when that one
 * overran) until `signal` aborts.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { RunNotFoundError } from "../runner/errors.js";
import type { TaskGraph } from "../graph/task-graph.js";
import type { RunStore } from "../persistence/run-store.js";
import { defaultStore } from "../runner/default-store.js";
import { assertStore } from "../runner/run-options.js";
import { systemClock, type Clock } from "../core/clock.js";
import { validateRetryOptions, type BackoffOptions } from "../graph/retry-options.js";
import { AgentSlots } from "./agent-calls.js";
import { AgentRegistry, type AgentFunction, type AgentOptions, type AgentRegistration } from "./agents.js";
import { FailedRetries, retryFailedPolicy } from "./failed-retries.js";
import { compileWorkflow, type WorkflowTaskInput, type WorkflowTaskOutput } from "./compile-workflow.js";
import { buildJobHandlers, type JobHandler, type JobHandlerOptions, type JobResult } from "./job-handlers.js";
import type { NodeExecutor } from "../engine/node-executor.js";
import { warnOnShortRefresh } from "./refresh-period.js";
import type { TaskData } from "./stage-task.js";
import { answeredAt, applyJobResult, type ApplyResult } from "./task-apply.js";
import { dueTasks, queryTasks, type DueTask, type TaskFilter, type TasksAtOptions } from "./task-query.js";
import { type ProvidedDeps, type Providers } from "./providers.js";
import { runStageCli, type StageCliIO } from "./stage-cli.js";
import { assertServable, servedStages, servesStage } from "./stage-serving.js";
import { StageEvents } from "./stage-events.js";
import { positiveInt, validateStageRunOptions, type RunConfig } from "./stage-run-config.js";
import type { StageRunOptions, StageRunReport } from "./stage-run-options.js";
import { mapLimit, sleepUntil } from "./sweep-pacing.js";
import { SweepAdmission } from "./sweep-admission.js";
import { RunWindow, windowSize } from "./sweep-window.js";
import { moveOf, summarize, type RunnerWork } from "./sweep-results.js";
import { actOnTask, type ActOptions, type ActResult } from "./task-act.js";
import { limitPerStage, planTask, type Chosen } from "./task-plan.js";
import { readTaskReport, type TaskReport } from "./task-report.js";
import { driveTask, type Live, type TaskDriveHost } from "./task-drive.js";
import { taskRunId } from "./task-run-id.js";
import { validateTasks, type TaskInput, type TaskMove } from "./task-source.js";
import { defineWorkflow, type Workflow, type WorkflowDefinition } from "./workflow.js";

export type { ActOptions, ActResult } from "./task-act.js";
export type { ApplyResult } from "./task-apply.js";
export type { DueTask, TaskFilter, TasksAtOptions } from "./task-query.js";

/** Options of a {@link StageRunner}. */
export interface StageRunnerOptions {
  /** Where task runs are kept. @default a `LowdbStore` in `TASKLOOM_DIR` or `./.taskloom` */
  readonly store?: RunStore;
  /** Visits of one stage by one task, for stages without their own `maxVisits`. @default 100 */
  readonly maxVisits?: number;
  /** Backoff between an agent's attempts. @default `{ initialMs: 100, factor: 2, maxMs: 30_000, jitter: true }` */
  readonly backoff?: BackoffOptions;
  /** The clock (tests pass a `ManualClock`). @default the system clock */
  readonly clock?: Clock;
  /**
   * The agent stages this runner serves (ids or titles): it calls their
   * agents, and parks tasks at any other agent stage for a runner that
   * serves it or a queue worker (same store; `tasksAt`, `apply`).
   * @default the stages with a registered agent
   */
  readonly serves?: readonly string[];
  /**
   * Where the stages' bodies run, as the `executor` of `runAsync`: `bullmqExecutor(…)` from
   * `taskloom/bullmq` sends agent calls to BullMQ workers that serve `runner.graph()`. @default in this process
   */
  readonly executor?: NodeExecutor;
}

const RUNNER_OPTION_KEYS = optionKeys<StageRunnerOptions>({ store: true, maxVisits: true, backoff: true, clock: true, serves: true, executor: true });

/** Throws `InvalidOptionError` unless `clock` has the methods of a {@link Clock}. */
function assertClock(clock: unknown): void {
  const c = clock as Partial<Clock> | null;
  if (c === null || typeof c !== "object" || typeof c.now !== "function" || typeof c.setTimeout !== "function" || typeof c.clearTimeout !== "function") {
    throw new InvalidOptionError(
      "clock",
      "must have now(), setTimeout(fn, ms) and clearTimeout(handle), such as a ManualClock (or leave it out for the system clock)",
    );
  }
}
/**
 * Runs tasks through a workflow of agent, human and final stages. The type
 * parameter is the shape of the tasks' data, so agents read it typed
 * (`new StageRunner<{ text: string }>(workflow)`: `task.data.text` is a string).
 *
 * @example
 * ```ts
 * const runner = new StageRunner(workflow, { store: new LowdbStore({ dir: ".taskloom" }) });
 * runner.stage("pre-label", async (task, { deps }) => ({ pathway: "review", label: await deps.model.label(task.data) }), {
 *   deps: { model: provideModel },
 * });
 * const report = await runner.runAsync({ tasks: [{ id: "t1", data: { text: "hello" } }], runId: "labeling-1" });
 * await runner.act("labeling-1", "t1", "approve", { assignee: "ann" });
 * await runner.runAsync({ tasks: [{ id: "t1", data: { text: "hello" } }], runId: "labeling-1" }); // t1 completes
 * ```
 */
export class StageRunner<D extends object = TaskData> {
  /** The validated workflow. */
  readonly workflow: Workflow;
  /** Sweeps, moves, task ends, warnings. */
  readonly events = new StageEvents();
  readonly #agents: AgentRegistry;
  readonly #options: StageRunnerOptions;
  readonly #live = new Map<string, Live>();
  readonly #serves: ReadonlySet<string> | undefined;
  #graph: TaskGraph<WorkflowTaskInput, WorkflowTaskOutput> | undefined;
  #store: RunStore | undefined;

  constructor(workflow: Workflow | WorkflowDefinition, options: StageRunnerOptions = {}) {
    if (options === null || typeof options !== "object" || Array.isArray(options)) throw new InvalidOptionError("StageRunner options", "must be an object");
    assertKnownKeys("StageRunner", options, RUNNER_OPTION_KEYS);
    if (options.store !== undefined) assertStore(options.store);
    if (options.clock !== undefined) assertClock(options.clock);
    positiveInt(options.maxVisits, "maxVisits");
    if (options.backoff !== undefined) validateRetryOptions({ backoff: options.backoff }, "StageRunner");
    if (options.executor !== undefined && typeof (options.executor as Partial<NodeExecutor> | null)?.execute !== "function") {
      throw new InvalidOptionError("executor", "must have an execute(activation, context) method (see NodeExecutor), such as bullmqExecutor(…)");
    }
    this.workflow = defineWorkflow(workflow);
    this.#agents = new AgentRegistry(this.workflow);
    this.#options = options;
    this.#serves = options.serves === undefined ? undefined : servedStages(this.workflow, options.serves);
  }

  /**
   * Whether this runner calls the agent of `stageId` (every non-agent stage
   * is served). With an `executor` and no `serves`, every agent stage is:
   * the executor's workers have the agents.
   */
  serves(stageId: string): boolean {
    if (this.#serves === undefined && this.#options.executor !== undefined) return true;
    return servesStage(this.workflow, this.#agents, this.#serves, stageId);
  }

  /** The store (the default `LowdbStore` when none was given), opened on first use. */
  get store(): RunStore {
    return (this.#store ??= this.#options.store ?? defaultStore());
  }

  /**
   * Registers the agent of an agent stage, by id or title. Throws
   * `StageRegistrationError` for an unknown or non-agent stage, or a
   * second registration without `{ overwrite: true }`.
   *
   * @example
   * ```ts
   * runner.stage("pre-label", async (task, { deps }) => deps.classifier.isEmpty(task.data) ? "skip" : "review", {
   *   deps: { classifier: provideClassifier },
   * });
   * ```
   */
  stage<P extends Providers | undefined = undefined>(stage: string, fn: AgentFunction<ProvidedDeps<P>, D>, options?: AgentOptions<P>): this {
    this.#agents.register(stage, fn as AgentFunction<ProvidedDeps<P>>, options);
    this.#graph = undefined;
    return this;
  }

  /** The registered agents, in registration order. */
  agents(): AgentRegistration[] {
    return this.#agents.list();
  }

  /**
   * The compiled graph (one task's run). A task that reaches an agent
   * stage this runner does not serve (or has no agent for) is parked there
   * (a `due:` wait) for a runner that serves it, or for a queue worker
   * (`runner.tasksAt` lists it, `runner.apply` applies the worker's result).
   */
  graph(): TaskGraph<WorkflowTaskInput, WorkflowTaskOutput> {
    return (this.#graph ??= compileWorkflow(this.workflow, this.#agents, {
      unserved: "queue",
      scopeFor: (graphRunId) => this.#live.get(graphRunId)?.scope,
      limit: (graphRunId, call) => {
        const live = this.#live.get(graphRunId);
        return live ? live.calls.run(call) : call();
      },
      agentRunId: (graphRunId) => this.#live.get(graphRunId)?.runnerRunId ?? graphRunId,
      admit: (graphRunId, stageId, key) => {
        const live = this.#live.get(graphRunId);
        if (!live) return this.serves(stageId);
        // A queue worker's answer is already at this key: the task takes it (never answered twice at one key).
        if (live.mayHoldAnswers && answeredAt(live.state?.(), key)) return false;
        return live.admission.admit(stageId, live.admitted);
      },
    }));
  }

  /** The run id of one task's run: `<runId>.<taskId>`. */
  static taskRunId(runId: string, taskId: string): string {
    return taskRunId(runId, taskId);
  }

  /**
   * Runs the tasks through the workflow (one sweep, or a sweep every
   * `refreshEveryMs` until `signal` aborts) and resolves to a report. A
   * failing task never stops the others: it is in `report.failed` with its
   * error. Call again with the same `runId` to resume after a crash, to
   * move tasks that people acted on, and to ask again agents that kept
   * their task.
   *
   * @example
   * ```ts
   * const report = await runner.runAsync({ tasks, runId: "labeling-1", numRetries: 2, maxConcurrency: 4 });
   * for (const f of report.failed) console.log(f.taskId, f.stageId, f.error?.message);
   * ```
   */
  async runAsync(options: StageRunOptions): Promise<StageRunReport> {
    const o = validateStageRunOptions(options);
    assertServable(this.#agents, this.#serves);
    warnOnShortRefresh(this.events, o, (this.#options.clock ?? systemClock).now());
    const graph = this.graph();
    const clock = this.#options.clock ?? systemClock;
    const slots = new AgentSlots(o.maxConcurrency);
    // Task runs driven at once (sweep-window.ts); with an executor, its workers run the stages: a whole batch at once.
    const window = new RunWindow(this.#options.executor === undefined ? windowSize(o.maxConcurrency) : Infinity);
    const retries = new FailedRetries(retryFailedPolicy(o.retryFailed, o.refreshEveryMs));
    const work: RunnerWork = { processed: 0, moves: {} };
    let reports = new Map<string, TaskReport>();
    // Moves whose write to the source failed: retried with the next batch (the task runs hold the truth meanwhile).
    const unwritten = new Map<string, TaskMove>();
    let sweep = 0;
    for (;;) {
      sweep++;
      const sweepStart = clock.now();
      const tasks = await this.#fetch(o, sweep);
      if (tasks === undefined) {
        // A later sweep that could not read the source (a task file being edited): the next sweep reads it again.
        if (o.signal?.aborted) break;
        if (await sleepUntil(clock, sweepStart + (o.refreshEveryMs ?? 0), o.signal)) break;
        continue;
      }
      const planning = { retryDue: (taskId: string) => retries.due(taskId, sweepStart), serves: (stageId: string) => this.serves(stageId) };
      const plans = await mapLimit(tasks, 16, (task) => planTask(this.store, this.workflow, o.runId, task, planning));
      const admission = new SweepAdmission(o.maxTasksPerStage, planning.serves);
      const runnable = limitPerStage(plans, admission);
      const chosen = new Set(runnable.map((c) => c.plan));
      reports = new Map(plans.map((p) => [p.task.id, p.before]));
      for (const p of plans) {
        if (p.before.state !== "failed") retries.recovered(p.task.id);
        if (p.kind !== "skip" && !chosen.has(p)) reports.set(p.task.id, { ...p.before, state: this.serves(p.before.stageId) ? "deferred" : "queued" });
        else if (p.before.state === "queued" && this.serves(p.before.stageId)) reports.set(p.task.id, { ...p.before, state: "deferred" });
        // A move the source missed (a crash before its batch was written): write it with the next batch, for every
        // task this sweep does not process (skipped, or deferred by the cap). Not for a task without a run that the
        // source says COMPLETED: nothing happened to it (its report's stage is a stand-in, not a position to write).
        if (
          (p.kind === "skip" || !chosen.has(p)) &&
          p.before.state !== "new" &&
          p.sourceOnly !== true &&
          (p.task.stageId !== p.before.stageId || p.task.status !== p.before.status)
        ) {
          unwritten.set(p.task.id, moveOf(p.before, p.task.stageId, clock.now()));
        }
      }
      this.events.emit("sweep:start", { runId: o.runId, at: clock.now(), sweep, tasks: tasks.length, runnable: runnable.length });
      let processed = 0;
      const host = this.#driveHost();
      for (let i = 0; i < runnable.length && !o.signal?.aborted; i += o.batchSize) {
        const batch = runnable.slice(i, i + o.batchSize);
        const done = await Promise.all(batch.map((c) => this.#drive(host, o, graph, slots, c, admission, work, window)));
        done.forEach((driven, j) => {
          // Not started: the signal aborted while the task waited for a window slot (its report stays as planned).
          if (driven === undefined) return;
          const { report, worked } = driven;
          const plan = (batch[j] as Chosen).plan;
          reports.set(report.taskId, report);
          if (report.state === "busy") return;
          if (worked) processed++;
          if (report.state === "failed") retries.failed(report.taskId, sweepStart);
          else retries.recovered(report.taskId);
          unwritten.set(report.taskId, moveOf(report, plan.kind === "start" ? undefined : plan.before.stageId, clock.now()));
        });
        await this.#flush(o, unwritten, "the next batch");
      }
      work.processed += processed;
      await this.#flush(o, unwritten, "the next sweep or runAsync call");
      this.events.emit("sweep:end", { runId: o.runId, at: clock.now(), sweep, processed });
      if (o.refreshEveryMs === undefined || o.signal?.aborted) break;
      const stopped = await sleepUntil(clock, sweepStart + o.refreshEveryMs, o.signal);
      if (stopped) break;
    }
    return summarize(o.runId, sweep, [...reports.values()], work);
  }

  /**
   * Records a person's action on a task waiting at a human stage: a
   * pathway of the stage (`approve`, `reject`, `submit`, …) or a status
   * action (`assign` with an assignee, `release`, `skip`). Works from any
   * process that opens the same store; the task moves at the runner's next
   * sweep. Throws `ActionNotAllowedError` (listing the allowed actions)
   * when the task's stage does not allow it, and `RunNotFoundError` for a
   * task the runner never processed. Nothing is written then.
   *
   * @example
   * ```ts
   * await runner.act("labeling-1", "t1", "assign", { assignee: "ann" });
   * await runner.act("labeling-1", "t1", "approve", { assignee: "ann" });
   * ```
   */
  async act(runId: string, taskId: string, action: string, options: ActOptions = {}): Promise<ActResult> {
    return actOnTask(this, this.#options.clock ?? systemClock, runId, taskId, action, options);
  }

  /** Where one task stands, from its stored run. Throws `RunNotFoundError` when the runner never processed it. */
  async task(runId: string, taskId: string): Promise<TaskReport> {
    const id = taskRunId(runId, taskId);
    const stored = await this.store.load(id);
    if (!stored) throw new RunNotFoundError(id);
    return readTaskReport(taskId, stored.state, this.workflow);
  }

  /**
   * Lists a run's tasks from the store, without a sweep, filtered by stage
   * (id, title or uuid), status, state, assignee or id; ordered by task id.
   * Tasks the runner has not processed yet (only in the source) are not listed.
   *
   * @example
   * ```ts
   * const mine = await runner.tasks("labeling-1", { stage: "review", assignee: "ann" });
   * const failed = await runner.tasks("labeling-1", { state: "failed" });
   * ```
   */
  async tasks(runId: string, filter?: TaskFilter): Promise<TaskReport[]> {
    return queryTasks(this.store, this.workflow, runId, filter);
  }

  /**
   * The tasks due at an agent stage that a queue feeds (no agent of this
   * runner serves it), at most `limit` (100) in task id order, after the
   * task id `after`: one batch for a queue producer. Each comes with the
   * JSON `spec` for the stage's job handler and a `jobId` unique to the
   * task's wait, so enqueueing a listed task twice queues it once.
   *
   * @example
   * ```ts
   * for (const due of await runner.tasksAt("pre-label", { runId: "labeling-1", limit: 100 })) {
   *   await queue.add("pre-label", due.spec, { jobId: due.jobId });
   * }
   * ```
   */
  async tasksAt(stage: string, options: TasksAtOptions): Promise<DueTask<D>[]> {
    return (await dueTasks(this.store, this.workflow, stage, options)) as DueTask<D>[];
  }

  /**
   * Applies a job handler's result (its JSON, or the parsed object) to its
   * task, durably: the task moves along the result's pathway at the
   * runner's next sweep; a result without a pathway, or a failed job,
   * leaves it due at the stage. Idempotent: the same result again writes
   * nothing (`applied: false`); a different result for a wait that has one,
   * or a result for a task that left the stage, throws `StaleJobResultError`.
   * Works from any process that opens the same store (a queue worker).
   *
   * @example
   * ```ts
   * const result = await handlers["pre-label"](due.spec); // in a queue worker
   * await runner.apply("labeling-1", result);
   * ```
   */
  async apply(runId: string, jobResult: string | JobResult): Promise<ApplyResult> {
    return applyJobResult(this, this.#options.clock ?? systemClock, runId, jobResult);
  }

  /**
   * The runner as a command: `--run-id`, `--num-retries`,
   * `--max-concurrency`, `--batch-size`, `--max-tasks-per-stage`,
   * `--refresh-every`, `--tasks FILE`, `--help`. Shows progress per stage
   * on a terminal (plain lines otherwise) and resolves to the exit code:
   * 0 when no task failed, 1 otherwise or on a usage error.
   *
   * @example
   * ```ts
   * process.exitCode = await runner.cli(process.argv.slice(2));
   * ```
   */
  cli(argv: readonly string[], io?: StageCliIO): Promise<number> {
    return runStageCli(this, argv, io);
  }

  /**
   * Each agent stage (that has an agent) as a JSON-in / JSON-out function
   * for external queues: a task spec `{ id, data }` (or an array of them)
   * in, `{ taskId, stageId, success, pathway, error, updates }` (or an
   * array) out.
   *
   * @example
   * ```ts
   * const handlers = runner.toJobHandlers();
   * const result = JSON.parse(await handlers["pre-label"](JSON.stringify({ id: "t1", data: { text: "hi" } })));
   * ```
   */
  toJobHandlers(options?: JobHandlerOptions): Record<string, JobHandler> {
    return buildJobHandlers(this.#agents, options);
  }

  /**
   * The source's tasks, checked. A source that cannot be read (or gives invalid tasks) fails the first
   * sweep of a call (a wrong path fails fast); at a later sweep of a refreshing runner it is a `warning`
   * and undefined (the sweep is skipped, the next one reads the source again): a task file caught half
   * written by an editor, or edited into invalid JSON for a moment, does not stop a runner that sweeps for hours.
   */
  async #fetch(o: RunConfig, sweep: number): Promise<readonly TaskInput[] | undefined> {
    try {
      const tasks = await o.source.fetch();
      validateTasks(tasks, "the task source's tasks");
      return tasks;
    } catch (error) {
      if (sweep === 1) throw error;
      const message = `the task source could not be read (${String(error)}); sweep ${sweep} is skipped, and the next sweep reads the source again`;
      this.events.emit("warning", { runId: o.runId, at: (this.#options.clock ?? systemClock).now(), message, error });
      return undefined;
    }
  }

  /** Writes the moves not written yet to the source; on failure keeps them for `retry` and warns. */
  async #flush(o: RunConfig, unwritten: Map<string, TaskMove>, retry: string): Promise<void> {
    if (unwritten.size === 0) return;
    const clock = this.#options.clock ?? systemClock;
    const moves = [...unwritten.values()];
    try {
      await o.source.write(moves);
      unwritten.clear();
      this.events.emit("batch:written", { runId: o.runId, at: clock.now(), moves: moves.length });
    } catch (error) {
      // The task runs hold the truth (runner.task reads it); the source only lags.
      const message = `the task source could not be written (${String(error)}); its ${moves.length} moves are written with ${retry}`;
      this.events.emit("warning", { runId: o.runId, at: clock.now(), message, error });
    }
  }

  /** Drives one task's run once a window slot is free; undefined when the signal aborted before it started. */
  async #drive(
    host: TaskDriveHost,
    o: RunConfig,
    graph: TaskGraph<WorkflowTaskInput, WorkflowTaskOutput>,
    slots: AgentSlots,
    chosen: Chosen,
    admission: SweepAdmission,
    work: RunnerWork,
    window: RunWindow,
  ): Promise<{ report: TaskReport; worked: boolean } | undefined> {
    const slot = await window.enter();
    try {
      if (o.signal?.aborted) return undefined;
      return await driveTask(host, o, graph, slots, chosen, admission, work, slot);
    } finally {
      slot.leave();
    }
  }

  /** What driving a task's run needs from this runner (`task-drive.ts`). */
  #driveHost(): TaskDriveHost {
    return {
      workflow: this.workflow,
      store: this.store,
      events: this.events,
      clock: this.#options.clock ?? systemClock,
      options: this.#options,
      live: this.#live,
      serves: (stageId) => this.serves(stageId),
    };
  }
}
