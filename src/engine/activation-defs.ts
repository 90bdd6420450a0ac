/**
 * What runs for an activation, and under which retry policy. An
 * activation's definition is its graph node's, or one added while the run
 * goes (a graphFn step, a map element), or, for a later visit of a routed
 * graph (`n#2`), its node's.
 *
 * Invariant: most nodes have no retry or timeout options of their own and
 * share the run's policy, resolved once; a node with options gets its own,
 * resolved once per activation.
 *
 * @module
 */
import type { TaskGraph } from "../graph/task-graph.js";
import { resolveRetryPolicy, type RetryPolicy } from "./retry-policy.js";
import { type NodeDefinition } from "../graph/definition.js";
import { type RetryOptions } from "../graph/retry-options.js";

/** Definitions and retry policies of a run's activations. */
export class ActivationDefs {
  readonly #graph: TaskGraph<unknown, unknown>;
  readonly #retry: RetryOptions | undefined;
  readonly #visitNode: (id: string) => string | undefined;
  /** Step definitions of a dynamic graph and of map elements, by activation id. */
  readonly #added = new Map<string, NodeDefinition>();
  readonly #policies = new Map<string, RetryPolicy>();
  #runPolicy: RetryPolicy | undefined;

  /** `visitNode`: the graph node of a later visit of a routed graph, else undefined. */
  constructor(graph: TaskGraph<unknown, unknown>, retry: RetryOptions | undefined, visitNode: (id: string) => string | undefined) {
    this.#graph = graph;
    this.#retry = retry;
    this.#visitNode = visitNode;
  }

  get(id: string): NodeDefinition | undefined {
    return this.#graph.node(id) ?? this.#added.get(id) ?? this.#graph.node(this.#visitNode(id) ?? "");
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
      return (this.#runPolicy ??= resolveRetryPolicy(this.#retry));
    }
    let policy = this.#policies.get(id);
    if (!policy) {
      policy = resolveRetryPolicy(this.#retry, node.retry, node.timeoutMs);
      this.#policies.set(id, policy);
    }
    return policy;
  }
}
