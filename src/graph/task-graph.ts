/**
 * `TaskGraph`: an immutable, validated graph of nodes. It holds structure
 * (ids, dependency edges, per-node options), the functions to run and the
 * graph's {@link GraphOrigin}, and nothing about any run. Built from
 * {@link TaskGraphParts} by the builder (`graph(name)…build()`), `graphify`,
 * `graphFn` or `fromSpec`, and validated once by {@link validateGraph}; its
 * `fingerprint` hashes the structure and options (not function bodies) so a
 * stored run can tell whether it was made by the same graph.
 *
 * Invariants: a constructed graph is frozen, and so are its nodes (routes
 * normalized to arrays, see {@link GraphNode}; retry options a frozen copy); the class calls
 * validation, fingerprint, topology and spec writing, and none of them
 * imports this module (they read the types in `definition.ts`).
 *
 * @module
 */
import type { DynamicBody, GraphNode, GraphOrigin, InputDeclaration, NodeDefinition, OutputFunction, TaskGraphParts } from "./definition.js";
import { fingerprintOf } from "./fingerprint.js";
import { buildGraphIndexAt, setGraphIndex } from "./graph-index.js";
import { validateInput, type InputValidator } from "./input-validator.js";
import { normalizeRoutes, type RouteTable } from "./route.js";
import { RoutingTopology } from "./routing-topology.js";
import type { GraphSpec, ToSpecOptions } from "./spec/format.js";
import { writeSpec } from "./spec/write-spec.js";
import { validateGraph } from "./validate-graph.js";
import { GraphDefinitionError } from "./errors.js";
import type { RetryOptions } from "./retry-options.js";

/** The one empty list every node without dependencies or successors shares (a million-node graph has a million). */
const NONE: readonly string[] = Object.freeze([]);

const ORIGINS: ReadonlySet<unknown> = new Set<GraphOrigin>(["builder", "graphify", "graphFn", "spec"]);

/**
 * A node's `after` list, frozen: the shared empty list, the shared list of
 * one dependency (`single` keeps one per id: the branches of a fan-out all
 * run after the same node), or a frozen copy.
 */
function frozenAfter(after: readonly string[], single: Map<string, readonly string[]>): readonly string[] {
  if (after.length === 0) return NONE;
  if (after.length > 1) return Object.freeze([...after]);
  const dep = after[0] as string;
  let list = single.get(dep);
  if (!list) {
    list = Object.freeze([dep]);
    single.set(dep, list);
  }
  return list;
}

/**
 * Makes V8 intern the node ids and `after` entries (its string table
 * holds one copy of each, and property keys must be in it), by using each
 * as a key of a throwaway object. A run builds objects keyed by node id
 * (a node's `deps`, the outputs given to the graph's `outputs`), and V8
 * interns each key the first time it is one: for a million-node fan-out,
 * a million string-table lookups and inserts in the first run's join and
 * outputs (each a cache miss in a table of a million strings), which every
 * later run of the graph skips. Done here, once per graph, as the graph's
 * other tables are. The throwaway object is replaced every
 * {@link INTERN_BATCH} keys: one object with a million keys spent about as
 * long growing its own table as the interning took. Speed only: no id changes.
 */
function internIds(parts: readonly NodeDefinition[]): void {
  let keys: Record<string, true> = Object.create(null) as Record<string, true>;
  let count = 0;
  for (const n of parts) {
    for (let k = -1; k < n.after.length; k++) {
      keys[k < 0 ? n.id : n.after[k]!] = true;
      if (++count === INTERN_BATCH) {
        keys = Object.create(null) as Record<string, true>;
        count = 0;
      }
    }
  }
}

/** Keys per throwaway object of {@link internIds}. */
const INTERN_BATCH = 1_024;

/** The fields of a node definition that {@link builtNode} sets one by one. */
const NODE_FIELDS: ReadonlySet<string> = new Set(["id", "fn", "after", "retry", "timeoutMs", "map", "routes", "maxVisits"]);

/**
 * A node as the graph keeps it: frozen, with its routes normalized. Built
 * field by field in one fixed order, not by spreading the definition: V8
 * gives each object made by spreading a rest object a hidden class of its
 * own, which at a million nodes is a million hidden classes (some 170
 * bytes each) for one shape. Fields other than the known ones (a caller's
 * own) are kept, after them.
 */
function builtNode(n: NodeDefinition, single: Map<string, readonly string[]>): GraphNode {
  const node: { -readonly [K in keyof GraphNode]: GraphNode[K] } = { id: n.id, fn: n.fn, after: frozenAfter(n.after, single) };
  if (n.retry !== undefined) node.retry = frozenRetry(n.retry);
  if (n.timeoutMs !== undefined) node.timeoutMs = n.timeoutMs;
  if (n.map !== undefined) node.map = n.map;
  if (n.routes !== undefined) node.routes = normalizeRoutes(n.routes);
  if (n.maxVisits !== undefined) node.maxVisits = n.maxVisits;
  for (const key in n) {
    if (!NODE_FIELDS.has(key) && Object.prototype.hasOwnProperty.call(n, key)) {
      (node as unknown as Record<string, unknown>)[key] = (n as unknown as Record<string, unknown>)[key];
    }
  }
  return Object.freeze(node);
}

/**
 * A frozen copy of a node's validated retry options (and of their
 * `backoff`): the caller's object stays theirs, and changing it after
 * `build()` changes neither the graph nor its runs (it bypassed
 * validation: a `timeoutMs` of -1 fired at once).
 */
function frozenRetry(retry: RetryOptions): RetryOptions {
  const backoff = retry.backoff;
  return Object.freeze({ ...retry, ...(backoff !== undefined && { backoff: Object.freeze({ ...backoff }) }) });
}

/** The routing topology of a graph that routes, over maps by id in the order the nodes were given. */
function routingTopology(
  parts: readonly NodeDefinition[],
  nodeAt: readonly GraphNode[],
  position: ReadonlyMap<string, number>,
  successorsAt: readonly (readonly string[])[],
): RoutingTopology {
  const nodes = new Map<string, GraphNode>();
  const successors = new Map<string, readonly string[]>();
  for (const n of parts) {
    const p = position.get(n.id)!;
    nodes.set(n.id, nodeAt[p]!);
    successors.set(n.id, successorsAt[p]!);
  }
  return new RoutingTopology(nodes, successors);
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
  /** Where the graph came from: the builder, `graphify`, `graphFn` or a stored spec. */
  readonly origin: GraphOrigin;
  /** The position of each node in `order`; the node and the successor list of each position. */
  readonly #position: ReadonlyMap<string, number>;
  readonly #nodeAt: readonly GraphNode[];
  readonly #successorsAt: readonly (readonly string[])[];
  /** Routing edges and what they imply; undefined when no node routes. */
  readonly routing: RoutingTopology | undefined;
  readonly #inputValidator: InputValidator<I> | undefined;
  readonly #output: OutputFunction<I, O> | undefined;
  /** The body of a dynamic graph (`graphFn`), undefined for a static one. */
  readonly dynamic: DynamicBody<I, O> | undefined;
  /** How the graph declared its inputs (the CLI refuses to run a `"typed"` graph without inputs). */
  readonly inputs: InputDeclaration;
  /** Marks the phantom types so `TaskGraph<A>` and `TaskGraph<B>` differ. */
  declare readonly __types?: { readonly inputs: I; readonly outputs: O };

  /** Validates `parts` and builds the graph; throws `GraphDefinitionError` listing every problem. */
  constructor(parts: TaskGraphParts<I, O>) {
    const { order, position } = validateGraph(parts.name, parts.nodes, parts.output, parts.dynamic !== undefined);
    if (parts.dynamic !== undefined && typeof parts.dynamic !== "function") {
      throw new GraphDefinitionError(String(parts.name), ["the graphFn body must be a function"]);
    }
    const origin = parts.origin ?? (parts.dynamic !== undefined ? "graphFn" : "builder");
    if (!ORIGINS.has(origin) || (origin === "graphFn") !== (parts.dynamic !== undefined)) {
      throw new GraphDefinitionError(String(parts.name), [
        `origin ${JSON.stringify(origin)} is not valid: a graph with a dynamic body has origin "graphFn", ` + 'any other "builder", "graphify" or "spec"',
      ]);
    }
    this.name = parts.name;
    this.order = Object.freeze(order);
    internIds(parts.nodes);
    this.origin = origin;
    // Nodes by position in `order`, not in a map by id: the one map is `position` (validation's),
    // which the engine's index (graph-index.ts) and each new run's node table share.
    const nodeAt = new Array<GraphNode>(order.length);
    // Only nodes that something runs after get a list of their own; the others share NONE.
    const successorsAt = new Array<readonly string[]>(order.length).fill(NONE);
    const single = new Map<string, readonly string[]>();
    // Each node's position and each after entry's, in the order the nodes were given: looked up once here, read again by the index.
    const nodePosition = new Int32Array(parts.nodes.length);
    let edges = 0;
    for (let i = 0; i < parts.nodes.length; i++) {
      const n = parts.nodes[i]!;
      const p = position.get(n.id)!;
      nodePosition[i] = p;
      nodeAt[p] = builtNode(n, single);
      edges += n.after.length;
    }
    const afterPositions = new Int32Array(edges);
    for (let i = 0, k = 0; i < parts.nodes.length; i++) {
      const n = parts.nodes[i]!;
      for (const dep of n.after) {
        const p = position.get(dep)!;
        afterPositions[k++] = p;
        const list = successorsAt[p]!;
        if (list === NONE) successorsAt[p] = [n.id];
        else (list as string[]).push(n.id);
      }
    }
    for (const list of successorsAt) Object.freeze(list);
    this.#position = position;
    this.#nodeAt = nodeAt;
    this.#successorsAt = successorsAt;
    this.routing = parts.nodes.some((n) => n.routes !== undefined) ? routingTopology(parts.nodes, nodeAt, position, successorsAt) : undefined;
    const routingProblems = this.routing?.problems() ?? [];
    if (routingProblems.length > 0) throw new GraphDefinitionError(parts.name, routingProblems);
    this.#inputValidator = parts.inputValidator;
    this.#output = parts.output;
    this.dynamic = parts.dynamic;
    this.inputs = parts.inputValidator !== undefined ? "validated" : parts.declaresInputs === true ? "typed" : "none";
    this.fingerprint = fingerprintOf(parts.name, parts.nodes, parts.output !== undefined, parts.dynamic !== undefined);
    setGraphIndex(
      this,
      buildGraphIndexAt(
        position,
        nodeAt,
        nodePosition,
        parts.nodes.map((n) => n.after),
        afterPositions,
      ),
    );
    Object.freeze(this);
  }

  /** The number of nodes. */
  get size(): number {
    return this.#nodeAt.length;
  }

  /** Every node id, in topological order. */
  nodeIds(): readonly string[] {
    return this.order;
  }

  /** The node with this id, or undefined. */
  node(id: string): GraphNode | undefined {
    const p = this.#position.get(id);
    return p === undefined ? undefined : this.#nodeAt[p];
  }

  /** The routes of node `id` (route name → target ids), or undefined when it does not route. */
  routesOf(id: string): RouteTable | undefined {
    return this.node(id)?.routes;
  }

  /** The ids of the nodes that run after `id`. */
  successors(id: string): readonly string[] {
    const p = this.#position.get(id);
    return p === undefined ? NONE : this.#successorsAt[p]!;
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
   * again with `fromSpec(spec, registry)`. Throws `GraphDefinitionError`
   * for a `graphify` or `graphFn` graph (see {@link TaskGraph.origin}). The writing
   * is in `spec/write-spec.ts`.
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
