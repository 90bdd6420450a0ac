/**
 * taskloom: durable graphs of async work. Build a graph with
 * {@link graph}, run it with {@link runAsync} or {@link run}, and resume a
 * crashed run by calling `runAsync` again with its `runId`.
 *
 * @example
 * ```ts
 * import { graph, runAsync } from "taskloom";
 *
 * const etl = graph("etl")
 *   .input<{ url: string }>()
 *   .node("fetch", async ({ inputs, signal }) => (await fetch(inputs.url, { signal })).text())
 *   .node("parse", ({ deps }) => JSON.parse(deps.fetch) as unknown[], { after: ["fetch"] })
 *   .output(({ parse }) => ({ rows: parse.length }))
 *   .build();
 *
 * const out = await runAsync(etl, { url: "https://example.com/data.json" }, { runId: "etl-1" });
 * ```
 *
 * @module taskloom
 */
export { graph, GraphBuilder, type DepsOf, type NoOutput, type ElementOf } from "./graph/builder.js";
export { TaskGraph } from "./graph/task-graph.js";
export type {
  MapOptions,
  NodeDefinition,
  NodeOptions,
  OutputFunction,
  TaskGraphParts,
  DynamicBody,
  GraphFnContext,
  StepOptions,
  MapSpec,
  GraphNode,
  GraphOrigin,
  InputDeclaration,
} from "./graph/definition.js";
export type { NodeContext, NodeFunction, WaitOptions, MapContext } from "./graph/node-context.js";
export type { InputValidator, ParseValidator, StandardSchemaLike, StandardIssue } from "./graph/input-validator.js";
export { graphify, task, type GraphifyOptions, type GraphifyOutputs, type TaskCall, type TaskOptions, type TaskParams } from "./graph/graphify.js";
export type { Ref, RefArg, RefProps, Resolved } from "./graph/trace-ref.js";
export { route, isRoute, Route, type RouteTrigger, type RoutesOption, type RouteTable, type Unrouted } from "./graph/route.js";
export { fromSpec, toSpec } from "./graph/spec/graph-spec.js";
export type { FromSpecOptions, FunctionRegistry, GraphSpec, NodeSpec, RetrySpec, ToSpecOptions } from "./graph/spec/format.js";

export { run, runAsync, type RunHandle, type GraphFnLike } from "./runner/run.js";
export { retrieveRun, DEFAULT_POLL_INTERVAL_MS, type RetrieveRunOptions } from "./runner/retrieve-run.js";
export { graphFn, isGraphFn, type GraphFn, type GraphFnOptions } from "./runner/graph-fn.js";
export { DEFAULT_LEASE_TTL_MS, DEFAULT_MAX_CONCURRENCY, type RunOptions } from "./runner/run-options.js";
export { listRuns, getRun, deleteRun, type RunDetails, type StoreOption } from "./runner/manage-runs.js";
export { deleteRunIf, DELETE_IF_LEASE_TTL_MS, type DeleteRunIfOptions, type DeleteRunIfResult } from "./runner/delete-run-if.js";
export type { GetRunOptions, RunListing } from "./runner/manage-runs.js";
export { RUN_LIVENESS, livenessOf, type RunLiveness } from "./runner/run-liveness.js";
export { resolveWait, type ResolveWaitOptions } from "./runner/resolve-wait.js";
export { assertRunId, newRunId } from "./core/run-id.js";
export { defaultStore, defaultStoreDir } from "./runner/default-store.js";

export { ForwardScheduler, DEFAULT_MAX_VISITS, type SchedulerConfig, type SchedulerOutcome } from "./engine/forward-scheduler.js";
export type { NodeExecutor, NodeActivation } from "./engine/node-executor.js";
export { DEFAULT_RETRY, backoffDelay, resolveRetryPolicy, shouldRetry, type RetryPolicy } from "./engine/retry-policy.js";
export type { BackoffOptions, RetryOptions } from "./graph/retry-options.js";
export { ManualClock, systemClock, type Clock, type PendingTimer, type TimerHandle } from "./core/clock.js";

export {
  RunEvents,
  type RunEventMap,
  type RunEventName,
  type RunEventListener,
  type EventBase,
  type NodeEventBase,
  type ListenerErrorHandler,
  type EmitterEvents,
} from "./events/run-events.js";

export { NODE_STATUSES, RUN_STATUSES, isNodeSettled, isRunFinal, type NodeStatus, type RunStatus } from "./state/status.js";
export type { RunState } from "./state/run-state.js";
export type { NodeTable } from "./state/node-table.js";
export type { ErrorRecord, InboxEntry, JournalRecord, NodeRecord, RunMeta, RunSummary, WaitRecord } from "./state/records.js";
export { ATTEMPT_OUTCOMES, MAX_ATTEMPT_LOG, type AttemptRecord, type RunSession } from "./state/records.js";

export type { RunStore, StoredRun, LoadHint, Lease, LeaseRequest, ProcessIdentity, RunQuery, StoreProblem } from "./persistence/run-store.js";
export type { RunJournal } from "./engine/journal-port.js";
export { MemoryStore } from "./persistence/memory-store.js";
export { LowdbStore, type LowdbStoreOptions } from "./persistence/lowdb-store.js";
export { PersistenceObserver } from "./persistence/persistence-observer.js";
export type { SnapshotPolicy } from "./persistence/snapshot-policy.js";
export { serialize, deserialize } from "./persistence/serialization.js";
export { isDurable } from "./core/value-codec.js";
export { MAX_STORED_VALUE_CHARS } from "./core/stored-codec.js";

export {
  defineWorkflow,
  isWorkflow,
  isHumanStage,
  pathwayNames,
  STAGE_KINDS,
  type PathwayDefinition,
  type Stage,
  type StageDefinition,
  type StageKind,
  type Workflow,
  type WorkflowDefinition,
} from "./stages/workflow.js";
export { loadWorkflow, parseWorkflow } from "./stages/workflow-json.js";
export {
  AgentRegistry,
  type AgentContext,
  type AgentFunction,
  type AgentMap,
  type AgentOptions,
  type AgentRegistration,
  type AgentResult,
} from "./stages/agents.js";
export type { StageTask, TaskData } from "./stages/stage-task.js";
export {
  ProviderScope,
  type Provided,
  type ProvidedDeps,
  type ProvidedValue,
  type Provider,
  type ProviderContext,
  type Providers,
} from "./stages/providers.js";
export { JsonFileTaskSource, MemoryTaskSource, type TaskInput, type TaskMove, type TaskSource } from "./stages/task-source.js";
export { TASK_STATUSES, STATUS_ACTIONS, type StatusAction, type TaskStatus } from "./stages/task-status.js";
export type { JobHandler, JobHandlerOptions, JobResult } from "./stages/job-handlers.js";
export {
  compileWorkflow,
  type ActionPayload,
  type CarriedTask,
  type CompileOptions,
  type WorkflowTaskInput,
  type WorkflowTaskOutput,
} from "./stages/compile-workflow.js";
export { StageRunner, type ActOptions, type ActResult, type StageRunnerOptions } from "./stages/stage-runner.js";
export type { StageRunOptions, StageRunReport } from "./stages/stage-run-options.js";
export { TASK_STATES, type TaskError, type TaskReport, type TaskState } from "./stages/task-report.js";
export type { TaskErrorCause } from "./stages/task-report.js";
export { DEFAULT_MAX_RETRY_WAIT_MS, DEFAULT_MAX_SWEEP_RETRIES, type RetryFailedOptions } from "./stages/failed-retries.js";
export { StageEvents, type StageEventMap, type StageEventName, type StageEmitterEvents } from "./stages/stage-events.js";
export { StageProgress, parseStageArgs, type StageCliIO, type StageCliOptions, type StageOutput } from "./stages/stage-cli.js";
export { ActionNotAllowedError, StageRegistrationError, UnknownPathwayError } from "./stages/stage-errors.js";
export { UnknownStageError, StaleJobResultError } from "./stages/stage-errors.js";
export type { QueuedAnswer } from "./stages/compile-workflow.js";
export type { ApplyResult, DueTask, TaskFilter, TasksAtOptions } from "./stages/stage-runner.js";

export {
  schedule,
  getSchedule,
  listSchedules,
  removeSchedule,
  ScheduledJob,
  DEFAULT_CALLBACK_RETRY,
  type ScheduleOptions,
  type ListSchedulesOptions,
  type RepeatOptions,
  type ScheduleStoreOption,
  type ScheduledResult,
  type ScheduledRunResult,
  type NotYetRunResult,
  type ScheduleHistoryRow,
  type ScheduleRunOptions,
  type SchedulableGraph,
} from "./schedule/schedule.js";
export { Scheduler, type SchedulerOptions, type SchedulerEventMap, type SchedulerJobView, type RunnableGraph } from "./schedule/scheduler.js";
export {
  verifySignature,
  signBody,
  SIGNATURE_HEADER,
  DEFAULT_SIGNATURE_TOLERANCE_MS,
  type CallbackPayload,
  type VerifyOptions,
  type SignOptions,
} from "./schedule/callback.js";
export { type ScheduleStore, type ScheduleListOptions, type ScheduleProblem } from "./schedule/schedule-store.js";
export { FileScheduleStore, type FileScheduleStoreOptions } from "./schedule/file-schedule-store.js";
export { MemoryScheduleStore } from "./schedule/memory-schedule-store.js";
export { scheduleStoreFor } from "./schedule/schedule-store-for.js";
export { parseWhen, ACCEPTED_WHEN, type WhenInput, type WhenSpec } from "./schedule/parse-when.js";
export type { WallTime } from "./schedule/zoned-time.js";
export { CATCH_UP_POLICIES, type CatchUp } from "./schedule/repeat.js";
export {
  SCHEDULE_STATUSES,
  HISTORY_LIMIT,
  type ScheduleStatus,
  type ScheduleRecord,
  type HistoryRow,
  type RunRow,
  type MissedRow,
  type ErrorRow,
  type CallbackState,
  type CallbackAttempt,
  type CallbackRetry,
  type SlotRunStatus,
} from "./schedule/schedule-record.js";

export { ERROR_CODES, TaskloomError, isTaskloomError, InvalidOptionError, InvalidRunIdError, type ErrorCode } from "./errors.js";
export { GraphDefinitionError, InputValidationError, NonRetryableError, type ValidationIssue } from "./graph/errors.js";
export {
  NodeFailedError,
  NodeTimeoutError,
  LoopLimitExceeded,
  LoopLimitExceededError,
  RunCancelledError,
  PersistenceError,
  ValueNotStorableError,
  LeaseLostError,
  WaitTimeoutError,
  WaitNotFoundError,
  WaitAlreadyResolvedError,
  NonDeterminismError,
  UnknownRouteError,
} from "./engine/errors.js";
export { RunLockedError, SnapshotCorruptError, StoreFolderError, UnsafeStoreFileError } from "./persistence/errors.js";
export {
  GraphHasPendingWaits,
  GraphHasPendingWaitsError,
  GraphChangedError,
  RunInputsMismatchError,
  StaleChildRunError,
  RunNotFoundError,
  OutputError,
  CancelNotAvailableError,
  RunHandleDisposedError,
  RunOutputsNotStoredError,
} from "./runner/errors.js";
export {
  InvalidScheduleError,
  ScheduleNotFoundError,
  ScheduleStateError,
  ScheduleExistsError,
  ExecutorNotRegisteredError,
  ScheduleCorruptError,
  SchedulePersistenceError,
  ScheduleLockError,
} from "./schedule/errors.js";
export { BullmqMissingError, ExecutorClosedError, WorkerGraphMissingError, WorkerJobFailedError, WorkerJobLeftError } from "./adapters/worker-errors.js";
export type { PendingWait } from "./state/waits.js";
export type { LeaseHolder } from "./state/lease-holder.js";
export { RunTimeoutError } from "./runner/errors.js";
export { type Runnable, type RunFunction, type GraphBuilderLike } from "./runner/runnable.js";
export { cancelRun, type CancelRunOptions, type CancelRunResult } from "./runner/cancel-run.js";
export type { CancelRequest } from "./persistence/run-store.js";
export { childRunId } from "./runner/child-run-id.js";
export type { ChildRunOptions } from "./graph/node-context.js";
export type { GraphChanges } from "./runner/errors.js";
export type { ChildRunner, ChildRunRequest } from "./engine/child-runs.js";
export type { NodeCounts } from "./state/run-summary.js";
