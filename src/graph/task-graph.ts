/**
 * `TaskGraph`: an immutable, validated graph of nodes. It holds structure
 * (ids, dependency edges, per-node options) and the functions to run, and
 * nothing about any run. Built by the builder (`graph(name)…build()`),
 * validated once by {@link validateGraph}; its `fingerprint` hashes the
 * structure and options (not function bodies) so a stored run can tell
 * whether it was made by the same graph.
 *
 * @module
 */
import type { RetryOptions } from "../engine/retry-policy.js";
import { fingerprintOf } from "./fingerprint.js";
import { validateInput, type InputValidator } from "./input-validator.js";
import { GraphDefinitionError } from "../errors.js";
import type { NodeFunction } from "./node-context.js";
import { validateGraph } from "./validate-graph.js";
import type { GraphSpec, ToSpecOptions } from "./graph-spec.js";
import { writeSpec } from "./spec-writer.js";
import { normalizeRoutes, type RoutesOption, type RouteTable } from "./route.js";
import { RoutingTopology } from "./routing-topology.js";

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

/** One node of a graph, as the scheduler sees it. */
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
  /** Set for a routing node: route name → target ids (normalized to arrays once the graph is built). */
  readonly routes?: RoutesOption;
  /** At most this many visits in one run. */
  readonly maxVisits?: number;
}

/** How a map node fans out. */
export interface MapSpec {
  /** The node whose array output is mapped (also in `after`). */
  readonly source: string;
  /** At most this many elements of this map at once (the run's limit applies too). @default Infinity */
  readonly maxConcurrency?: number;
}

/** Computes a graph's outputs from every node's output and the inputs. */
export type OutputFunction<I, O> = (outputs: Record<string, unknown>, inputs: I) => O;

/** Everything a graph is made of, before validation. */
export interface TaskGraphParts<I, O> {
  readonly name: string;
  readonly nodes: readonly NodeDefinition[];
  readonly inputValidator?: InputValidator<I> | undefined;
  readonly output?: OutputFunction<I, O> | undefined;
  /** For a dynamic graph (`graphFn`): the function whose `ctx.step` calls become activations. */
  readonly dynamic?: DynamicBody<I, O> | undefined;
}

/** The body of a dynamic graph: see `graphFn`. */
export type DynamicBody<I, O> = (inputs: I, context: GraphFnContext) => Promise<O>;

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
}

/**
 * An immutable, validated graph. Run it with `runAsync` or `run`.
 *
 * @typeParam I - the inputs
 * @typeParam O - the outputs
 *
 * @example
 * ```ts
 * const g: TaskGraph<{ n: number }, number> = graph("double")
 *   .input<{ n: number }>()
 *   .node("x2", ({ inputs }) => inputs.n * 2)
 *   .output(({ x2 }) => x2)
 *   .build();
 * ```
 */
export class TaskGraph<I = unknown, O = unknown> {
  /** The graph's name. */
  readonly name: string;
  /** A hash of the structure and options: ids, edges, retry and timeout settings. */
  readonly fingerprint: string;
  /** Node ids in a topological order (every node after all it depends on). */
  readonly order: readonly string[];
  readonly #nodes: ReadonlyMap<string, NodeDefinition>;
  readonly #successors: ReadonlyMap<string, readonly string[]>;
  /** Routing edges and what they imply; undefined when no node routes. */
  readonly routing: RoutingTopology | undefined;
  readonly #inputValidator: InputValidator<I> | undefined;
  readonly #output: OutputFunction<I, O> | undefined;
  /** The body of a dynamic graph (`graphFn`), undefined for a static one. */
  readonly dynamic: DynamicBody<I, O> | undefined;
  /** Marks the phantom types so `TaskGraph<A>` and `TaskGraph<B>` differ. */
  declare readonly __types?: { readonly inputs: I; readonly outputs: O };

  /** Validates `parts` and builds the graph; throws `GraphDefinitionError` listing every problem. */
  constructor(parts: TaskGraphParts<I, O>) {
    const { order } = validateGraph(parts.name, parts.nodes, parts.output, parts.dynamic !== undefined);
    if (parts.dynamic !== undefined && typeof parts.dynamic !== "function") {
      throw new GraphDefinitionError(String(parts.name), ["the graphFn body must be a function"]);
    }
    this.name = parts.name;
    this.order = Object.freeze(order);
    const nodes = new Map<string, NodeDefinition>();
    const successors = new Map<string, string[]>();
    for (const n of parts.nodes) {
      nodes.set(
        n.id,
        Object.freeze({ ...n, after: Object.freeze([...n.after]), ...(n.routes !== undefined && { routes: normalizeRoutes(n.routes) }) }),
      );
      successors.set(n.id, []);
    }
    for (const n of parts.nodes) for (const dep of n.after) successors.get(dep)?.push(n.id);
    for (const list of successors.values()) Object.freeze(list);
    this.#nodes = nodes;
    this.#successors = successors;
    this.routing = parts.nodes.some((n) => n.routes !== undefined) ? new RoutingTopology(nodes, successors) : undefined;
    const routingProblems = this.routing?.problems() ?? [];
    if (routingProblems.length > 0) throw new GraphDefinitionError(parts.name, routingProblems);
    this.#inputValidator = parts.inputValidator;
    this.#output = parts.output;
    this.dynamic = parts.dynamic;
    this.fingerprint = fingerprintOf(parts.name, parts.nodes, parts.output !== undefined, parts.dynamic !== undefined);
    Object.freeze(this);
  }

  /** The number of nodes. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Every node id, in topological order. */
  nodeIds(): readonly string[] {
    return this.order;
  }

  /** The node with this id, or undefined. */
  node(id: string): NodeDefinition | undefined {
    return this.#nodes.get(id);
  }

  /** The routes of node `id` (route name → target ids), or undefined when it does not route. */
  routesOf(id: string): RouteTable | undefined {
    return this.#nodes.get(id)?.routes as RouteTable | undefined;
  }

  /** The ids of the nodes that run after `id`. */
  successors(id: string): readonly string[] {
    return this.#successors.get(id) ?? [];
  }

  /** Validates raw inputs with the graph's validator (if any). */
  async parseInputs(raw: unknown): Promise<I> {
    if (!this.#inputValidator) return raw as I;
    return validateInput(this.#inputValidator, raw, `inputs of graph "${this.name}"`);
  }

  /** The graph's outputs, from every node's output: the output function's result, or all node outputs. */
  outputs(nodeOutputs: Record<string, unknown>, inputs: I): O {
    return this.#output ? this.#output(nodeOutputs, inputs) : (nodeOutputs as O);
  }

  /**
   * This graph as JSON-able data, with each function replaced by a name
   * (from `options.registry`, else the function's own name); load it
   * again with `fromSpec(spec, registry)`. See `toSpec` in `graph-spec.ts`.
   *
   * @example
   * ```ts
   * writeFileSync("etl.json", JSON.stringify(etl.toSpec({ registry: { fetchPage, parsePage } })));
   * ```
   */
  toSpec(options?: ToSpecOptions): GraphSpec {
    return writeSpec(this, this.#output, options);
  }
}
