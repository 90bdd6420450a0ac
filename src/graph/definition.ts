/**
 * What a graph is made of, as types only: node options and definitions
 * (as declared, and as a built graph holds them), map fan-out, the output
 * function, the parts a `TaskGraph` is built from, where a graph came
 * from, and the body and context of a dynamic graph (`graphFn`).
 *
 * Invariants: this module has no runtime code and imports only types, so
 * every other module of `src/graph` (validation, fingerprint, topology,
 * specs, the `TaskGraph` class) can depend on it without an import cycle.
 * The node context types live in `node-context.ts`, the route types in
 * `route.ts`; both are types this module reads, never the other way round.
 *
 * @module
 */
import type { RetryOptions } from "./retry-options.js";
import type { InputValidator } from "./input-validator.js";
import type { ChildRunOptions, NodeFunction } from "./node-context.js";
import type { RoutesOption, RouteTable } from "./route.js";

/** Options of one node. */
export interface NodeOptions<A extends readonly string[] = readonly string[]> {
  /** The nodes that must succeed before this one runs; their outputs arrive in `deps`. */
  readonly after?: A;
  /** This node's retry policy, laid over the run's. */
  readonly retry?: RetryOptions;
  /** Per-attempt time limit (ms); overrides `retry.timeoutMs`. */
  readonly timeoutMs?: number;
  /**
   * Makes this a routing node: route name → the node id (or ids) that run
   * when the node returns `route(name, value)`. Its other route targets are
   * skipped. Targets may be earlier nodes (a loop).
   */
  readonly routes?: RoutesOption;
  /** At most this many visits of this node in one run (loops); overrides the run's `maxVisits`. */
  readonly maxVisits?: number;
}

/** Options of a map node. */
export interface MapOptions<A extends readonly string[] = readonly string[]> extends NodeOptions<A> {
  /** At most this many elements at once (the run's `maxConcurrency` applies too). @default Infinity */
  readonly maxConcurrency?: number;
}

/** One node of a graph as declared: what the builder, `graphify` and `fromSpec` hand to `TaskGraph`. */
export interface NodeDefinition {
  /** The node id (unique in the graph). */
  readonly id: string;
  /** Ids of the nodes it runs after. */
  readonly after: readonly string[];
  /** Its body. */
  readonly fn: NodeFunction<unknown, Record<string, unknown>, unknown>;
  /** Its retry options. */
  readonly retry?: RetryOptions;
  /** Its per-attempt time limit (ms). */
  readonly timeoutMs?: number;
  /** Set for a map node: `fn` runs once per element of `source`'s array output. */
  readonly map?: MapSpec;
  /** Set for a routing node: route name → target id or ids, as declared. */
  readonly routes?: RoutesOption;
  /** At most this many visits in one run. */
  readonly maxVisits?: number;
}

/**
 * One node of a built `TaskGraph`, as `graph.node(id)` returns it:
 * its {@link NodeDefinition}, frozen, with its routes normalized (every
 * route's targets an array).
 */
export interface GraphNode extends Omit<NodeDefinition, "routes"> {
  /** Set for a routing node: route name → target ids. */
  readonly routes?: RouteTable;
}

/** How a map node fans out. */
export interface MapSpec {
  /** The node whose array output is mapped (also in `after`). */
  readonly source: string;
  /** At most this many elements of this map at once (the run's limit applies too). @default Infinity */
  readonly maxConcurrency?: number;
}

/** Computes a graph's outputs from every node's output and the inputs. */
export type OutputFunction<I, O> = {
  // Method syntax makes the inputs parameter bivariant, so a graph of typed inputs is a `TaskGraph` (of unknown inputs) too.
  bivariant(outputs: Record<string, unknown>, inputs: I): O;
}["bivariant"];

/**
 * Where a graph came from: the builder (`graph(name)…build()`, and any
 * graph made from parts directly), `graphify`, `graphFn`, or a stored spec
 * (`fromSpec`). It decides what a spec can hold: a `graphify` graph's
 * wiring and a `graphFn` graph's steps are code, so neither can be stored.
 */
export type GraphOrigin = "builder" | "graphify" | "graphFn" | "spec";

/** Everything a graph is made of, before validation. */
export interface TaskGraphParts<I, O> {
  readonly name: string;
  readonly nodes: readonly NodeDefinition[];
  readonly inputValidator?: InputValidator<I> | undefined;
  readonly output?: OutputFunction<I, O> | undefined;
  /** For a dynamic graph (`graphFn`): the function whose `ctx.step` calls become activations. */
  readonly dynamic?: DynamicBody<I, O> | undefined;
  /**
   * Where the graph came from. @default `"graphFn"` with a `dynamic` body,
   * else `"builder"`; `"graphFn"` needs a `dynamic` body and no other origin
   * allows one.
   */
  readonly origin?: GraphOrigin | undefined;
  /** True when the graph declared its inputs (`.input<T>()`), with or without a validator. @default false */
  readonly declaresInputs?: boolean | undefined;
}

/**
 * How a graph declared its inputs: `"none"` (no `.input()`: a node that
 * reads `inputs` copes with whatever is given), `"typed"` (`.input<T>()`,
 * a type only: nothing checks the inputs at run time) or `"validated"`
 * (`.input(schema)`: the validator checks them before anything runs).
 */
export type InputDeclaration = "none" | "typed" | "validated";

/** The body of a dynamic graph: see `graphFn`. */
export type DynamicBody<I, O> = {
  // Method syntax makes the inputs parameter bivariant, so a graphFn's graph of typed inputs is a `TaskGraph` (of unknown inputs) too.
  bivariant(inputs: I, context: GraphFnContext): Promise<O>;
}["bivariant"];

/** Options of one `graphFn` step. */
export interface StepOptions {
  /** The step's retry policy, laid over the run's. */
  readonly retry?: RetryOptions;
  /** Per-attempt time limit (ms). */
  readonly timeoutMs?: number;
}

/**
 * The context of a `graphFn` body.
 *
 * @example
 * ```ts
 * graphFn("orders", async (inputs: { ids: string[] }, { step }) => {
 *   const rows = await Promise.all(inputs.ids.map((id) => step(`fetch:${id}`, () => fetchOrder(id))));
 *   return step("total", () => rows.reduce((s, r) => s + r.amount, 0));
 * });
 * ```
 */
export interface GraphFnContext {
  /** The run id. */
  readonly runId: string;
  /** The run's mark, as `NodeContext.runInstance` (a step's `ctx.runInstance` is the same). */
  readonly runInstance: string | undefined;
  /** Aborted when the run is cancelled or fails. */
  readonly signal: AbortSignal;
  /**
   * Runs `fn` as a node activation with id `id` (retries, concurrency,
   * events, a journaled result) and resolves to its output; on replay a
   * recorded step resolves at once without running. Rejects with
   * `NodeFailedError` when the step runs out of attempts.
   */
  readonly step: <T>(id: string, fn: NodeFunction<unknown, Record<string, never>, T>, options?: StepOptions) => Promise<T>;
  /** Emits a `node:event` event (node id `$graphFn`). */
  readonly emit: (name: string, data?: unknown) => void;
  /**
   * Runs `graph` as a durable child run (see `NodeContext.run`) inside a
   * step with id `run:<key>`: on replay a finished child's outputs come
   * from the journal; an unfinished child is resumed.
   */
  readonly run: <O = unknown>(graph: object, inputs: unknown, options: ChildRunOptions) => Promise<O>;
}
