/**
 * Agents: the functions that run agent stages, their registration, and
 * the one place an agent is called ({@link callAgent}), shared by the
 * compiled graph and the JSON job handlers so both read an agent's answer
 * the same way.
 *
 * An agent receives the task and a context (`deps` from its providers,
 * the stage, the attempt, a signal) and answers with:
 * - a pathway name: the task moves along it;
 * - `undefined`: the task stays in the stage, and the agent is asked again
 *   at a later sweep;
 * - `{ pathway, ...updates }`: the updates are merged into the task's data
 *   (and written to the task source with the batch); `pathway` may be
 *   undefined to stay with the updates kept.
 * A pathway the stage does not have fails the task with
 * `UnknownPathwayError` (not retried) listing the valid ones.
 *
 * Registration keeps the order agents were registered in; registering a
 * stage twice needs `{ overwrite: true }`, which keeps the first position.
 *
 * @module
 */
import { assertKnownKeys, optionKeys } from "../core/known-keys.js";
import { checkDurable } from "../core/value-codec.js";
import { NonRetryableError } from "../graph/errors.js";
import { nameList, StageRegistrationError, UnknownPathwayError } from "./stage-errors.js";
import type { ProvidedDeps, ProviderScope, Providers } from "./providers.js";
import { pathwayName } from "./stage-names.js";
import type { StageTask, TaskData } from "./stage-task.js";
import { pathwayNames, type Stage, type Workflow } from "./workflow.js";

/** What an agent receives besides the task. */
export interface AgentContext<D = Record<string, unknown>> {
  /** The values of the stage's providers, by name. */
  readonly deps: D;
  /** The stage. */
  readonly stage: Stage;
  /** The runner run id. */
  readonly runId: string;
  /** The attempt, from 1 (retries count up). */
  readonly attempt: number;
  /** This task's visit to the stage, from 1 (loops count up). */
  readonly visit: number;
  /** Aborted when the attempt times out or the run is cancelled. */
  readonly signal: AbortSignal;
}

/** An agent's answer: a pathway, `undefined` to stay, or `{ pathway, ...updates }`. */
export type AgentResult = string | undefined | void | ({ readonly pathway?: string | undefined } & Readonly<Record<string, unknown>>);

/**
 * The function of an agent stage.
 *
 * @example
 * ```ts
 * const preLabel: AgentFunction<{ model: Model }> = async (task, { deps }) => {
 *   const label = await deps.model.label(task.data.text as string);
 *   return { pathway: "review", label };
 * };
 * ```
 */
export type AgentFunction<D = Record<string, unknown>, T extends object = TaskData> = (
  task: StageTask<T>,
  context: AgentContext<D>,
) => AgentResult | Promise<AgentResult>;

/** Options of an agent's registration. */
export interface AgentOptions<P extends Providers | undefined = Providers | undefined> {
  /** Providers by name; their values arrive in `ctx.deps`. */
  readonly deps?: P;
  /** Replace an agent already registered for the stage. @default false */
  readonly overwrite?: boolean;
}

const AGENT_OPTION_KEYS = optionKeys<AgentOptions>({ deps: true, overwrite: true });
/** The keys of an `AgentMap` entry given as an object. */
const AGENT_ENTRY_KEYS = optionKeys<Exclude<AgentMap[string], AgentFunction<never>>>({ fn: true, deps: true });

/** A registered agent. */
export interface AgentRegistration {
  /** The stage's id (also when registered by title). */
  readonly stageId: string;
  /** The agent. */
  readonly fn: AgentFunction<never>;
  /** Its providers. */
  readonly deps: Providers;
}

/** Agents for `compileWorkflow`: a registry, or a function (or `{ fn, deps }`) per stage id or title. */
export type AgentMap = Readonly<Record<string, AgentFunction<never> | { readonly fn: AgentFunction<never>; readonly deps?: Providers }>>;

/**
 * The agents of one workflow, in registration order.
 *
 * @example
 * ```ts
 * const agents = new AgentRegistry(workflow);
 * agents.register("Pre-label", preLabel, { deps: { model: provideModel } });
 * ```
 */
export class AgentRegistry {
  readonly workflow: Workflow;
  readonly #agents = new Map<string, AgentRegistration>();

  constructor(workflow: Workflow) {
    this.workflow = workflow;
  }

  /**
   * Registers `fn` for the agent stage with this id or title. Throws
   * `StageRegistrationError` for an unknown stage, a stage that is not an
   * agent stage, or a second registration without `overwrite`.
   */
  register<P extends Providers | undefined = undefined>(stage: string, fn: AgentFunction<ProvidedDeps<P>>, options: AgentOptions<P> = {}): AgentRegistration {
    const s = typeof stage === "string" ? this.workflow.stage(stage) : undefined;
    const agentStages = this.workflow.stages.filter((x) => x.kind === "agent").map((x) => x.id);
    if (!s) throw new StageRegistrationError(String(stage), `no stage has this id or title (agent stages: ${nameList(agentStages)})`);
    if (s.kind !== "agent") {
      throw new StageRegistrationError(stage, `it is a ${s.kind} stage, and only agent stages run code (agent stages: ${nameList(agentStages)})`);
    }
    if (typeof fn !== "function") throw new StageRegistrationError(stage, `the agent must be a function (got ${typeof fn})`);
    if (options === null || typeof options !== "object") throw new StageRegistrationError(stage, "options must be an object");
    assertKnownKeys(`the agent of stage "${stage}"`, options, AGENT_OPTION_KEYS);
    if (options.overwrite !== undefined && typeof options.overwrite !== "boolean") throw new StageRegistrationError(stage, "overwrite must be true or false");
    const deps: Providers = options.deps ?? {};
    if (deps === null || typeof deps !== "object") throw new StageRegistrationError(stage, "deps must be an object of provider functions");
    for (const [name, provider] of Object.entries(deps)) {
      if (typeof provider !== "function") throw new StageRegistrationError(stage, `provider "${name}" is a ${typeof provider}, not a function`);
    }
    if (this.#agents.has(s.id) && options.overwrite !== true) {
      throw new StageRegistrationError(stage, `an agent is already registered for stage "${s.id}"; pass { overwrite: true } to replace it`);
    }
    const registration: AgentRegistration = Object.freeze({ stageId: s.id, fn, deps });
    this.#agents.set(s.id, registration);
    return registration;
  }

  /** The agent of a stage (by id or title), or undefined. */
  get(stage: string): AgentRegistration | undefined {
    const s = this.workflow.stage(stage);
    return s ? this.#agents.get(s.id) : undefined;
  }

  /** Every registration, in the order stages were first registered. */
  list(): AgentRegistration[] {
    return [...this.#agents.values()];
  }

  /** The agent stages that have no agent yet. */
  missing(): string[] {
    return this.workflow.stages.filter((s) => s.kind === "agent" && !this.#agents.has(s.id)).map((s) => s.id);
  }

  /** A registry from a map of agents by stage id or title. */
  static from(workflow: Workflow, agents: AgentRegistry | AgentMap): AgentRegistry {
    // `this`, not the class's name: a class body that names its class is renamed by the build (scripts/build.mjs).
    if (agents instanceof this) {
      if (agents.workflow !== workflow) {
        const registry = new this(workflow);
        for (const r of agents.list()) registry.register(r.stageId, r.fn as never, { deps: r.deps });
        return registry;
      }
      return agents;
    }
    if (agents === null || typeof agents !== "object")
      throw new StageRegistrationError("(agents)", "agents must be an AgentRegistry or an object of functions by stage");
    const registry = new this(workflow);
    for (const [stage, entry] of Object.entries(agents)) {
      if (typeof entry === "function") registry.register(stage, entry as never);
      else if (entry !== null && typeof entry === "object") {
        assertKnownKeys(`the agent of stage "${stage}"`, entry, AGENT_ENTRY_KEYS);
        registry.register(stage, entry.fn as never, { deps: entry.deps });
      } else throw new StageRegistrationError(stage, `the agent must be a function or { fn, deps } (got ${typeof entry})`);
    }
    return registry;
  }
}

/** An agent's answer, read: where the task goes (undefined: it stays) and what changed. */
export interface AgentOutcome {
  readonly pathway: string | undefined;
  readonly updates: Readonly<Record<string, unknown>>;
}

/** Where an agent is called from. */
export interface AgentCall {
  readonly runId: string;
  readonly attempt: number;
  readonly visit: number;
  readonly signal: AbortSignal;
}

/**
 * Resolves the stage's providers in `scope`, calls the agent and reads
 * its answer. Throws what the agent or a provider threw, `UnknownPathwayError`
 * for a pathway the stage does not have, and `NonRetryableError` for an
 * answer of the wrong shape.
 */
export async function callAgent(stage: Stage, agent: AgentRegistration, task: StageTask, call: AgentCall, scope: ProviderScope): Promise<AgentOutcome> {
  const deps = !hasProviders(agent.deps) ? scope.none() : await scope.resolve(agent.deps, task, withSignalOf({ runId: call.runId, stageId: stage.id }, call));
  const context = withSignalOf({ deps: deps as never, stage, runId: call.runId, attempt: call.attempt, visit: call.visit }, call);
  const result: unknown = await agent.fn(task, context);
  return readAnswer(stage, result);
}

/** Where {@link withSignalOf} keeps the call whose signal an object's `signal` reads. */
const CALL = Symbol("taskloom.agentCall");

function signalOfCall(this: { readonly [CALL]: AgentCall }): AbortSignal {
  return this[CALL].signal;
}

/**
 * `fields` with an own, enumerable `signal` getter that reads `call.signal`
 * when read, not before (the attempt's signal is made only when an agent
 * or a provider reads it). One getter for every object, not a getter in
 * each literal: V8 11 turns each object whose literal has a getter into a
 * dictionary (about 1 µs, against 0.25; docs/architecture.md, "Hidden
 * classes"). The call is kept under a symbol that nothing enumerates.
 */
function withSignalOf<T extends object>(fields: T, call: AgentCall): T & { readonly signal: AbortSignal } {
  Object.defineProperty(fields, CALL, { value: call });
  return Object.defineProperty(fields, "signal", { get: signalOfCall, enumerable: true, configurable: true }) as T & { readonly signal: AbortSignal };
}

/** True when `providers` names at least one provider. */
function hasProviders(providers: Providers | undefined): boolean {
  for (const _ in providers) return true;
  return false;
}

/** Reads an agent's answer; throws `UnknownPathwayError` or `NonRetryableError` (wrong shape). */
export function readAnswer(stage: Stage, result: unknown): AgentOutcome {
  let pathway: unknown;
  let updates: Record<string, unknown> = {};
  if (result === undefined || typeof result === "string") pathway = result;
  else if (typeof result === "object" && result !== null && !Array.isArray(result)) {
    ({ pathway, ...updates } = result as Record<string, unknown>);
  } else {
    throw new NonRetryableError(
      `the agent of stage "${stage.id}" returned ${describeValue(result)}; return a pathway name (${nameList(pathwayNames(stage))}), undefined to stay, or { pathway, ...updates }`,
    );
  }
  if (pathway !== undefined && typeof pathway !== "string") {
    throw new NonRetryableError(
      `the agent of stage "${stage.id}" returned a pathway that is a ${typeof pathway}, not a string (pathways: ${nameList(pathwayNames(stage))})`,
    );
  }
  // A pathway may be named by its uuid too; the task takes it by name.
  const name = pathway === undefined ? undefined : pathwayName(stage, pathway);
  if (pathway !== undefined && name === undefined) throw new UnknownPathwayError(stage.id, pathway, pathwayNames(stage));
  // The updates are saved with the move (or journaled when the task stays): an update the store cannot keep
  // would make a move that is never saved (the agent asked again on resume) and a run stored without its task.
  // The same code gives the same answer: not retried.
  for (const _ in updates) {
    const durability = checkDurable(updates);
    if (!durability.ok) {
      throw new NonRetryableError(
        `the agent of stage "${stage.id}" returned updates the store cannot keep: ${durability.reason}; return plain data (strings, numbers, booleans, arrays, plain objects; see docs/durability.md, "What a node may return")`,
      );
    }
    break;
  }
  return { pathway: name, updates };
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return `a ${typeof value}`;
}
