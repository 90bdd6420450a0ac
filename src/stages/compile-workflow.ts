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
 *   bounds agent calls across all its tasks) inside `ctx.step`, so an
 *   answer is journaled before the task moves and never asked twice. An
 *   agent that answers `undefined` keeps the task in the stage: the node
 *   waits for the key `again:<stage>:<visit>:<n>`, which the runner
 *   resolves at its next sweep, and asks again. With an `admit` hook (a
 *   runner), the node first asks the hook whether this process may call
 *   the stage's agent now; when not (a stage this runner does not serve,
 *   or the stage's `maxTasksPerStage` reached in this sweep), the task is
 *   parked durably at the stage: the node waits for the key
 *   `due:<stage>:<visit>:<n>`, and a runner that serves the stage resumes
 *   the run (the key itself is never resolved: a resumed run is admitted).
 * - Human stage: waits for `act:<stage>:<visit>:<n>`; the payload is an
 *   action. A pathway action moves the task; a status action (`assign`,
 *   `release`, `skip`) changes its status and the node waits for the next
 *   key. Keys carry the visit, so a task that loops back waits afresh.
 * - Final stage: returns the task, completed; the graph's output is the
 *   final stage's task.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { graph, type GraphBuilder } from "../graph/builder.js";
import type { NodeContext } from "../graph/node-context.js";
import { route } from "../graph/route.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { AgentRegistry, callAgent, type AgentMap } from "./agents.js";
import type { StageTask, TaskData } from "./stage-task.js";
import { ProviderScope } from "./providers.js";
import { nameList, StageRegistrationError, UnknownPathwayError } from "./stage-errors.js";
import { isStatusAction, statusAfter, statusOnEntry, type TaskStatus } from "./task-status.js";
import { defineWorkflow, isHumanStage, pathwayNames, type Stage, type Workflow, type WorkflowDefinition } from "./workflow.js";

/** The inputs of a compiled workflow: one task. */
export interface WorkflowTaskInput {
  readonly id: string;
  readonly data?: TaskData;
  readonly assignee?: string;
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
   * Whether this process may call the agent of `stageId` for the run now;
   * false parks the task at the stage (a `due:` wait). With this hook,
   * agent stages without an agent are allowed: they always park.
   * @default every call admitted, and every agent stage needs an agent
   */
  readonly admit?: (graphRunId: string, stageId: string) => boolean;
}

const COMPILE_OPTION_KEYS = optionKeys<CompileOptions>({ scopeFor: true, limit: true, agentRunId: true, admit: true });

/**
 * Wait keys of stage nodes: `act:<stage>:<visit>:<n>` (a person's action),
 * `again:<stage>:<visit>:<n>` (an agent asked again) or
 * `due:<stage>:<visit>:<n>` (parked at an agent stage, due for its agent).
 */
export interface StageKey {
  readonly kind: "act" | "again" | "due";
  readonly stageId: string;
  readonly visit: number;
  readonly n: number;
}

/** The wait key for `key`. */
export function stageKey(key: StageKey): string {
  return `${key.kind}:${key.stageId}:${key.visit}:${key.n}`;
}

/** Reads a wait key made by {@link stageKey}; undefined for any other key. */
export function parseStageKey(key: string): StageKey | undefined {
  const m = /^(act|again|due):([A-Za-z0-9_-]+):(\d+):(\d+)$/.exec(key);
  if (!m) return undefined;
  return { kind: m[1] as StageKey["kind"], stageId: m[2] as string, visit: Number(m[3]), n: Number(m[4]) };
}

const ActionSchema = {
  parse(value: unknown): ActionPayload {
    const v = value as Partial<ActionPayload> | null;
    if (v === null || typeof v !== "object" || typeof v.action !== "string") throw new Error("an action is { action: string, assignee?: string, at: number }");
    if (v.assignee !== undefined && typeof v.assignee !== "string") throw new Error("assignee must be a string");
    return { action: v.action, at: typeof v.at === "number" ? v.at : 0, ...(v.assignee !== undefined && { assignee: v.assignee }) };
  },
};

const TaskInputSchema = {
  parse(value: unknown): WorkflowTaskInput {
    const v = value as Partial<WorkflowTaskInput> | null;
    if (v === null || typeof v !== "object" || typeof v.id !== "string") throw new Error("a task is { id: string, data?: object }");
    if (v.data !== undefined && (v.data === null || typeof v.data !== "object" || Array.isArray(v.data))) throw new Error("data must be an object");
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
 * `StageRegistrationError` when an agent stage has no agent.
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
  const wf = defineWorkflow(workflow);
  const registry = AgentRegistry.from(wf, agents);
  const missing = registry.missing();
  if (missing.length > 0 && options.admit === undefined) {
    throw new StageRegistrationError(missing[0] as string, `agent stages without an agent: ${nameList(missing)}; register one with runner.stage(id, fn)`);
  }
  // Every stage is route-gated: it runs only when a pathway (or the entry) chooses it. Without the
  // entry node, stages on a loop made only of pathways would have no forward route into them and
  // would all start at once (see graph/routing-topology.ts).
  let builder = graph(wf.name)
    .input<WorkflowTaskInput>(TaskInputSchema)
    .node(ENTRY, ({ inputs }) => route(wf.start, carriedFromInputs(inputs)), {
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
  if (!agent && !admit) throw new StageRegistrationError(stage.id, "no agent is registered");
  const limit = options.limit ?? (<T>(_graphRunId: string, call: () => Promise<T>) => call());
  return async (ctx: StageContext) => {
    const carried = arriving(ctx);
    let data = carried.data;
    for (let n = 1; ; n++) {
      // Not this process's to call now: park at the stage until a runner that may call it resumes the run.
      if (!agent || (admit && !admit(ctx.runId, stage.id))) await ctx.waitFor(stageKey({ kind: "due", stageId: stage.id, visit: ctx.visit, n }));
      if (!agent) throw new StageRegistrationError(stage.id, "no agent is registered in the runner that resumed the task");
      const task: StageTask = { id: carried.id, data, stageId: stage.id, status: statusOnEntry(false, ctx.visit) };
      const outcome = await ctx.step(`agent-${n}`, () =>
        limit(ctx.runId, async () => {
          const shared = options.scopeFor?.(ctx.runId);
          const scope = shared ?? new ProviderScope();
          const runId = options.agentRunId?.(ctx.runId) ?? ctx.runId;
          try {
            return await callAgent(stage, agent, task, { runId, attempt: ctx.attempt, visit: ctx.visit, signal: ctx.signal }, scope);
          } finally {
            if (!shared) await scope.dispose();
          }
        }),
      );
      if (Object.keys(outcome.updates).length > 0) data = { ...data, ...outcome.updates };
      if (outcome.pathway !== undefined) {
        return route(outcome.pathway, { id: carried.id, data, from: stage.id, pathway: outcome.pathway } satisfies CarriedTask);
      }
      await ctx.waitFor(stageKey({ kind: "again", stageId: stage.id, visit: ctx.visit, n }));
    }
  };
}

function humanBody(stage: Stage) {
  return async (ctx: StageContext) => {
    const carried = arriving(ctx);
    const actions: ActionPayload[] = [];
    for (let n = 1; ; n++) {
      const action = await ctx.waitFor<ActionPayload>(stageKey({ kind: "act", stageId: stage.id, visit: ctx.visit, n }), { schema: ActionSchema });
      actions.push(action);
      if (isStatusAction(action.action)) continue;
      if (!stage.pathways.some((p) => p.name === action.action)) throw new UnknownPathwayError(stage.id, action.action, pathwayNames(stage));
      const assignee = action.assignee ?? statusAfterActions(ctx.visit, actions).assignee;
      return route(action.action, {
        id: carried.id,
        data: carried.data,
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
