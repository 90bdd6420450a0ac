/**
 * `compileWorkflow(workflow, agents)`: a workflow as a `TaskGraph` that
 * moves one task. One node per stage; each pathway is a routing edge, so a
 * node runs only when a pathway chooses it, and a loop (a review sending a
 * task back) is a back edge whose every visit is a new activation
 * (`stage#2`, …), bounded by the stage's `maxVisits`.
 *
 * The task travels as the value of the route: a stage reads it from
 * `ctx.trigger.value` (the start stage, on its first visit, from the
 * graph's inputs) and passes it on with `route(pathway, task)`.
 *
 * - Agent stage: asks the agent (through the `limit` hook, so a runner
 *   bounds agent calls across all its tasks) inside `ctx.step`
 *   (`agent-<n>`). An answer with a pathway is saved with the move itself:
 *   the stage's success record holds the pathway and the task's data, in
 *   one write, so the step journals nothing of its own (its function
 *   hands the answer out past a throw, which a step does not journal:
 *   {@link CARRIED}); a crash before that write asks the agent again, as
 *   a crash before the step's own write did. An agent that answers
 *   `undefined` keeps the task in the stage: that answer is journaled by
 *   the step before the node waits for the key
 *   `again:<stage>:<visit>:<n>`, which the runner resolves at its next
 *   sweep, and asks again; a resume replays it and asks at `n + 1`. A run
 *   saved before this (its steps journaled pathway answers too) replays
 *   the same: a journaled answer with a pathway moves the task.
 * - Parked at an agent stage: when the stage has no agent here, or the
 *   `admit` hook (a runner) says this process may not call its agent now
 *   (a stage the runner does not serve, or its `maxTasksPerStage` reached
 *   in this sweep), the task waits, durably, for the key
 *   `due:<stage>:<visit>:<n>`. Either of two takes it from there: a queue
 *   worker's answer delivered to that key (`runner.apply`; an answer
 *   without a pathway, or a failed job, parks the task at the next key),
 *   or a runner that serves the stage, which resumes the run and is
 *   admitted, so the node calls the agent instead of waiting (the key is
 *   then never resolved). A key that has an answer is always waited for
 *   (the hook is told the key), so a task is never answered twice at one
 *   key.
 * - Human stage: waits for `act:<stage>:<visit>:<n>`; the payload is an
 *   action, whose `data` is merged into the task's. A pathway action
 *   moves the task; a status action (`assign`, `release`, `skip`) changes
 *   its status and the node waits for the next key. Keys carry the visit, so a task that loops back waits afresh.
 * - Final stage: returns the task, completed; the graph's output is the
 *   final stage's task.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import { graph, type GraphBuilder } from "../graph/builder.js";
import type { NodeContext } from "../graph/node-context.js";
import { route } from "../graph/route.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { AgentRegistry, callAgent, type AgentMap, type AgentOutcome } from "./agents.js";
import { StageCall } from "./stage-call.js";
import type { StageTask, TaskData } from "./stage-task.js";
import { ProviderScope } from "./providers.js";
import { stageKey } from "./stage-keys.js";
import { nameList, StageRegistrationError, UnknownPathwayError, UnknownStageError } from "./stage-errors.js";
import { isStatusAction, statusAfter, statusOnEntry, type TaskStatus } from "./task-status.js";
import { defineWorkflow, isHumanStage, pathwayNames, type Stage, type Workflow, type WorkflowDefinition } from "./workflow.js";

/** The inputs of a compiled workflow: one task. */
export interface WorkflowTaskInput {
  readonly id: string;
  readonly data?: TaskData;
  readonly assignee?: string;
  /** The stage the task is first seen at (its source says it is there). @default the workflow's start */
  readonly stageId?: string;
}

/** The output of a compiled workflow: the task as it ended. */
export interface WorkflowTaskOutput {
  readonly id: string;
  /** The final stage it reached. */
  readonly stageId: string;
  readonly status: "COMPLETED";
  readonly data: TaskData;
  /** The pathway that brought it there. */
  readonly pathway?: string;
  readonly assignee?: string;
}

/** The value a pathway carries from one stage to the next. */
export interface CarriedTask {
  readonly id: string;
  readonly data: TaskData;
  /** The stage it left. */
  readonly from?: string;
  /** The pathway it took. */
  readonly pathway?: string;
  /** Who acted last (human stages). */
  readonly assignee?: string;
}

/** A person's action, as delivered to a human stage's wait. */
export interface ActionPayload {
  readonly action: string;
  readonly assignee?: string;
  /** Data the person saved with the action (labels, a comment), merged into the task's data. */
  readonly data?: TaskData;
  readonly at: number;
}

/**
 * A queue worker's answer for a task parked at an agent stage, as
 * `runner.apply` delivers it to the stage's `due:` wait: the pathway (null: the task stays, due
 * again), the agent's updates, and the job's error when it failed (the task stays, due again).
 */
export interface QueuedAnswer {
  readonly pathway: string | null;
  readonly updates: TaskData;
  readonly error: string | null;
  readonly at: number;
}

/** Hooks a runner passes to {@link compileWorkflow}. */
export interface CompileOptions {
  /** The provider scope of a run (by graph run id); without one, each agent call gets its own. */
  readonly scopeFor?: (graphRunId: string) => ProviderScope | undefined;
  /** Wraps every agent call of a run (a runner's shared concurrency limit). */
  readonly limit?: <T>(graphRunId: string, call: () => Promise<T>) => Promise<T>;
  /** The run id agents see, from the graph run id. @default the graph run id */
  readonly agentRunId?: (graphRunId: string) => string;
  /**
   * Whether this process may call the agent of `stageId` for the run now,
   * instead of waiting at the park key `key` (`due:`); false parks the
   * task there. With this hook, agent stages without an agent are allowed:
   * they always park. @default every call admitted
   */
  readonly admit?: (graphRunId: string, stageId: string, key: string) => boolean;
  /**
   * Agent stages without an agent: `"error"` refuses to compile; `"queue"` compiles them as stages
   * fed by a queue, where a task is parked (`due:` keys) for a worker's answer (`runner.apply`). @default "error"
   */
  readonly unserved?: "error" | "queue";
}

const COMPILE_OPTION_KEYS = optionKeys<CompileOptions>({ scopeFor: true, limit: true, agentRunId: true, admit: true, unserved: true });

const ActionSchema = {
  parse(value: unknown): ActionPayload {
    const v = value as Partial<ActionPayload> | null;
    if (v === null || typeof v !== "object" || typeof v.action !== "string") throw new Error("an action is { action: string, assignee?: string, at: number }");
    if (v.assignee !== undefined && typeof v.assignee !== "string") throw new Error("assignee must be a string");
    if (v.data !== undefined && !isPlainData(v.data)) throw new Error("data must be an object");
    return {
      action: v.action,
      at: typeof v.at === "number" ? v.at : 0,
      ...(v.assignee !== undefined && { assignee: v.assignee }),
      ...(v.data !== undefined && { data: v.data }),
    };
  },
};

const QueuedAnswerSchema = {
  parse(value: unknown): QueuedAnswer {
    const v = value as Partial<QueuedAnswer> | null;
    if (v === null || typeof v !== "object") throw new Error("a queued answer is { pathway, updates, error, at }");
    if (v.pathway !== null && typeof v.pathway !== "string") throw new Error("pathway must be a string or null");
    if (!isPlainData(v.updates)) throw new Error("updates must be an object");
    if (v.error !== null && typeof v.error !== "string") throw new Error("error must be a string or null");
    return { pathway: v.pathway, updates: v.updates, error: v.error, at: typeof v.at === "number" ? v.at : 0 };
  },
};

function isPlainData(value: unknown): value is TaskData {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const TaskInputSchema = {
  parse(value: unknown): WorkflowTaskInput {
    const v = value as Partial<WorkflowTaskInput> | null;
    if (v === null || typeof v !== "object" || typeof v.id !== "string") throw new Error("a task is { id: string, data?: object }");
    if (v.data !== undefined && (v.data === null || typeof v.data !== "object" || Array.isArray(v.data))) throw new Error("data must be an object");
    if (v.stageId !== undefined && typeof v.stageId !== "string") throw new Error("stageId must be a string");
    return value as WorkflowTaskInput;
  },
};

/** The status of a human-stage task after the actions taken so far in this visit. */
export function statusAfterActions(visit: number, actions: readonly ActionPayload[]): { status: TaskStatus; assignee: string | undefined } {
  let status = statusOnEntry(false, visit);
  let assignee: string | undefined;
  for (const a of actions) {
    if (!isStatusAction(a.action)) continue;
    status = statusAfter(a.action);
    if (a.action === "assign") assignee = a.assignee;
    if (a.action === "release") assignee = undefined;
  }
  return { status, assignee };
}

/**
 * Compiles a workflow and its agents into a `TaskGraph` that moves one
 * task (the graph's inputs, `{ id, data }`) to a final stage (its output).
 * Throws `GraphDefinitionError` for an invalid workflow and
 * `StageRegistrationError` when an agent stage has no agent (unless
 * `unserved: "queue"`: its tasks then wait for a queue worker's result).
 *
 * @example
 * ```ts
 * const g = compileWorkflow(workflow, { "pre-label": async (task) => "review" });
 * await runAsync(g, { id: "t1", data: { text: "hi" } }, { runId: "t1" }); // waits at the review stage
 * ```
 */
export function compileWorkflow(
  workflow: Workflow | WorkflowDefinition,
  agents: AgentRegistry | AgentMap,
  options: CompileOptions = {},
): TaskGraph<WorkflowTaskInput, WorkflowTaskOutput> {
  assertKnownKeys("compileWorkflow", options, COMPILE_OPTION_KEYS);
  if (options.unserved !== undefined && options.unserved !== "error" && options.unserved !== "queue") {
    throw new InvalidOptionError("unserved", `must be "error" or "queue" (got ${JSON.stringify(options.unserved)})`);
  }
  const wf = defineWorkflow(workflow);
  const registry = AgentRegistry.from(wf, agents);
  const missing = registry.missing();
  if (missing.length > 0 && options.admit === undefined && options.unserved !== "queue") {
    throw new StageRegistrationError(missing[0] as string, `agent stages without an agent: ${nameList(missing)}; register one with runner.stage(id, fn)`);
  }
  // Every stage is route-gated: it runs only when a pathway (or the entry) chooses it. Without the
  // entry node, stages on a loop made only of pathways would have no forward route into them and
  // would all start at once (see graph/routing-topology.ts).
  let builder = graph(wf.name)
    .input<WorkflowTaskInput>(TaskInputSchema)
    .node(ENTRY, ({ inputs }) => route(entryStage(wf, inputs), carriedFromInputs(inputs)), {
      routes: Object.fromEntries(wf.stages.map((s) => [s.id, s.id])),
    }) as unknown as GraphBuilder<WorkflowTaskInput, Record<string, unknown>>;
  for (const stage of wf.stages) {
    const body: (ctx: StageContext) => unknown =
      stage.kind === "agent" ? agentBody(stage, registry, options) : isHumanStage(stage) ? humanBody(stage) : finalBody(stage);
    const routes = Object.fromEntries(stage.pathways.map((p) => [p.name, p.to]));
    builder = builder.node(stage.id, body, {
      ...(stage.pathways.length > 0 && { routes }),
      // A wrong pathway or a malformed answer would be chosen again: never retried.
      ...(stage.kind === "agent" && { retry: { retryOn: (error: unknown) => !(error instanceof UnknownPathwayError) } }),
      ...(stage.maxVisits !== undefined && { maxVisits: stage.maxVisits }),
    });
  }
  const finals = wf.stages.filter((s) => s.kind === "final").map((s) => s.id);
  return builder
    .output((outputs) => {
      for (const id of finals) if (outputs[id] !== undefined) return outputs[id] as WorkflowTaskOutput;
      throw new Error(`the task reached no final stage (${nameList(finals)})`);
    })
    .build();
}

type StageContext = NodeContext<WorkflowTaskInput, Record<string, unknown>>;

/** The id of the node that routes a task to the start stage (not a valid stage id, so never a stage's). */
export const ENTRY = "$enter";

/** The stage a task enters: where its source says it is (checked), else the start stage. */
function entryStage(wf: Workflow, inputs: WorkflowTaskInput): string {
  if (inputs.stageId === undefined) return wf.start;
  const stage = wf.stage(inputs.stageId);
  if (!stage)
    throw new UnknownStageError(
      inputs.id,
      inputs.stageId,
      wf.stages.map((s) => s.id),
    );
  return stage.id;
}

function carriedFromInputs(inputs: WorkflowTaskInput): CarriedTask {
  return { id: inputs.id, data: inputs.data ?? {}, ...(inputs.assignee !== undefined && { assignee: inputs.assignee }) };
}

/** The task as it arrives at a stage: the value of the route that chose the stage. */
function arriving(ctx: StageContext): CarriedTask {
  return (ctx.trigger?.value as CarriedTask | undefined) ?? carriedFromInputs(ctx.inputs);
}

function agentBody(stage: Stage, registry: AgentRegistry, options: CompileOptions) {
  const agent = registry.get(stage.id);
  const admit = options.admit;
  if (!agent && !admit && options.unserved !== "queue") throw new StageRegistrationError(stage.id, "no agent is registered");
  const limit = options.limit ?? (<T>(_graphRunId: string, call: () => Promise<T>) => call());
  return async (ctx: StageContext) => {
    const carried = arriving(ctx);
    let data = carried.data;
    for (let n = 1; ; n++) {
      const due = stageKey({ kind: "due", stageId: stage.id, visit: ctx.visit, n });
      // Not this process's to call now: parked at the stage, for a queue worker's answer or a runner that may call the agent.
      if (!agent || (admit && !admit(ctx.runId, stage.id, due))) {
        const answer = await ctx.waitFor<QueuedAnswer>(due, { schema: QueuedAnswerSchema });
        if (Object.keys(answer.updates).length > 0) data = { ...data, ...answer.updates };
        if (answer.pathway === null) continue;
        if (!stage.pathways.some((p) => p.name === answer.pathway)) throw new UnknownPathwayError(stage.id, answer.pathway, pathwayNames(stage));
        return route(answer.pathway, { id: carried.id, data, from: stage.id, pathway: answer.pathway } satisfies CarriedTask);
      }
      const task: StageTask = { id: carried.id, data, stageId: stage.id, status: statusOnEntry(false, ctx.visit) };
      // An answer with a pathway leaves the step by a throw (nothing journaled) and is taken from here ({@link CARRIED}).
      const moving: { answer?: AgentOutcome } = {};
      const outcome = await ctx
        .step(`agent-${n}`, () =>
          limit(ctx.runId, async () => {
            const shared = options.scopeFor?.(ctx.runId);
            const scope = shared ?? new ProviderScope();
            const runId = options.agentRunId?.(ctx.runId) ?? ctx.runId;
            try {
              return await callAgent(stage, agent, task, new StageCall(ctx, runId), scope);
            } finally {
              if (!shared) await scope.dispose();
            }
          }).then((answer) => {
            if (answer.pathway === undefined) return answer;
            moving.answer = answer;
            throw CARRIED;
          }),
        )
        .catch((error: unknown) => {
          if (moving.answer !== undefined) return moving.answer;
          throw error;
        });
      if (Object.keys(outcome.updates).length > 0) data = { ...data, ...outcome.updates };
      if (outcome.pathway !== undefined) {
        return route(outcome.pathway, { id: carried.id, data, from: stage.id, pathway: outcome.pathway } satisfies CarriedTask);
      }
      await ctx.waitFor(stageKey({ kind: "again", stageId: stage.id, visit: ctx.visit, n }));
    }
  };
}

/**
 * Thrown out of an agent's `ctx.step` when its answer has a pathway, so that the step journals
 * nothing: the answer itself is carried past the step in a variable of the body (a throw may come
 * back rebuilt, from a worker of an executor) and saved with the move, one write instead of two.
 * One instance: no stack is captured per move.
 */
const CARRIED = new Error("taskloom: an agent's answer with a pathway, carried past its step to be saved with the move");

function humanBody(stage: Stage) {
  return async (ctx: StageContext) => {
    const carried = arriving(ctx);
    const actions: ActionPayload[] = [];
    let data = carried.data;
    for (let n = 1; ; n++) {
      const action = await ctx.waitFor<ActionPayload>(stageKey({ kind: "act", stageId: stage.id, visit: ctx.visit, n }), { schema: ActionSchema });
      actions.push(action);
      // What a person saved with the action (labels, a comment) travels with the task.
      if (action.data !== undefined) data = { ...data, ...action.data };
      if (isStatusAction(action.action)) continue;
      if (!stage.pathways.some((p) => p.name === action.action)) throw new UnknownPathwayError(stage.id, action.action, pathwayNames(stage));
      const assignee = action.assignee ?? statusAfterActions(ctx.visit, actions).assignee;
      return route(action.action, {
        id: carried.id,
        data,
        from: stage.id,
        pathway: action.action,
        ...(assignee !== undefined && { assignee }),
      } satisfies CarriedTask);
    }
  };
}

function finalBody(stage: Stage) {
  return (ctx: StageContext): WorkflowTaskOutput => {
    const carried = arriving(ctx);
    return {
      id: carried.id,
      stageId: stage.id,
      status: "COMPLETED",
      data: carried.data,
      ...(carried.pathway !== undefined && { pathway: carried.pathway }),
      ...(carried.assignee !== undefined && { assignee: carried.assignee }),
    };
  };
}
