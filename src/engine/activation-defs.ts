/**
 * What runs for an activation, and under which retry policy. An
 * activation's definition is its graph node's, or one added while the run
 * goes (a graphFn step, a map element), or, for a later visit of a routed
 * graph (`n#2`), its node's.
 *
 * Invariant: most nodes have no retry or timeout options of their own and
 * share the run's policy; a node with options gets its own. Both are
 * resolved once per run-level retry object and (frozen) graph node, and
 * shared by every run with the same two ({@link policyOf}): a stage runner
 * drives thousands of runs of one graph with one set of options, and
 * resolving the same policies again for each run was a measurable part of
 * its per-task allocation. An added activation's definition (a graphFn
 * step, a map element) is its own object, so its policy is resolved once
 * per activation, as before.
 *
 * @module
 */
import type { TaskGraph } from "../graph/task-graph.js";
import { graphIndex } from "../graph/graph-index.js";
import { resolveRetryPolicy, type RetryPolicy } from "./retry-policy.js";
import { type NodeDefinition } from "../graph/definition.js";
import { type RetryOptions } from "../graph/retry-options.js";

/** Definitions and retry policies of a run's activations. */
export class ActivationDefs {
  readonly #graph: TaskGraph<unknown, unknown>;
  /** The graph's nodes by position (its index's: read once here, not at every attempt). */
  readonly #nodes: readonly NodeDefinition[];
  readonly #retry: RetryOptions | undefined;
  readonly #visitNode: (id: string) => string | undefined;
  /** Step definitions of a dynamic graph and of map elements, by activation id. */
  readonly #added = new Map<string, NodeDefinition>();
  readonly #policies = new Map<string, RetryPolicy>();

  /** `visitNode`: the graph node of a later visit of a routed graph, else undefined. */
  constructor(graph: TaskGraph<unknown, unknown>, retry: RetryOptions | undefined, visitNode: (id: string) => string | undefined) {
    this.#graph = graph;
    this.#nodes = graphIndex(graph).nodes;
    this.#retry = retry;
    this.#visitNode = visitNode;
  }

  get(id: string): NodeDefinition | undefined {
    return this.#graph.node(id) ?? this.#added.get(id) ?? this.#graph.node(this.#visitNode(id) ?? "");
  }

  /** {@link get} of an activation that is graph node `order[position]` when `position` is not -1: read there, no id lookup. */
  getAt(id: string, position: number): NodeDefinition | undefined {
    if (position >= 0 && this.#graph.order[position] === id) return this.#nodes[position];
    return this.get(id);
  }

  /** True when `id` was added (a graphFn step or map element of this execution). */
  has(id: string): boolean {
    return this.#added.has(id);
  }

  add(id: string, definition: NodeDefinition): void {
    this.#added.set(id, definition);
  }

  policy(id: string, node: NodeDefinition | undefined = this.get(id)): RetryPolicy {
    if (node?.retry === undefined && node?.timeoutMs === undefined) {
      // Most nodes have no options of their own: they share the run's policy.
      return policyOf(this.#retry, undefined);
    }
    if (!this.#added.has(id)) return policyOf(this.#retry, node);
    let policy = this.#policies.get(id);
    if (!policy) {
      policy = resolveRetryPolicy(this.#retry, node.retry, node.timeoutMs);
      this.#policies.set(id, policy);
    }
    return policy;
  }
}

/** Keys a run without retry options in {@link RESOLVED}. */
const NO_RUN_RETRY: object = {};
/** Policies by run-level retry options, then by graph node (`NO_NODE` for the run's own policy). */
const RESOLVED = new WeakMap<object, WeakMap<object, RetryPolicy>>();
const NO_NODE: object = {};

/**
 * The policy of graph node `node` (undefined: the run's policy) under the
 * run-level options `run`, resolved once per pair and shared by every run
 * with the same two. A graph node is frozen (task-graph.ts), so its
 * options are those it was built with.
 */
export function policyOf(run: RetryOptions | undefined, node: NodeDefinition | undefined): RetryPolicy {
  const runKey = run ?? NO_RUN_RETRY;
  let byNode = RESOLVED.get(runKey);
  if (!byNode) {
    byNode = new WeakMap();
    RESOLVED.set(runKey, byNode);
  }
  const nodeKey = node ?? NO_NODE;
  let policy = byNode.get(nodeKey);
  if (!policy) {
    policy = node === undefined ? resolveRetryPolicy(run) : resolveRetryPolicy(run, node.retry, node.timeoutMs);
    // Shared by runs: frozen, so no run changes another's.
    Object.freeze(policy.backoff);
    Object.freeze(policy);
    byNode.set(nodeKey, policy);
  }
  return policy;
}
