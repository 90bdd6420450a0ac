/**
 * The `deps` of a node's attempt: the outputs of its `after` nodes, built
 * the way V8 builds fastest for each shape of graph.
 *
 * Invariants (speed only, issue 16, target 3; what the object holds is the
 * same either way):
 * - An object built by adding a property named after a node id gets a
 *   hidden class of its own per id, and V8 makes each one on a slow path
 *   (about 0.8 µs; a 10,000-node chain has 10,000 ids). So unless the list
 *   is the one the previous attempt used (fan-out branches share one frozen
 *   list, hence one shape, built on the fast path), the object starts
 *   without a prototype, which V8 keeps as a dictionary (no hidden class
 *   per id), and gets `Object.prototype` once filled: to the node it is a
 *   plain object.
 * - From {@link WIDE_JOIN} entries on, a graph node's dependencies are read
 *   by graph position, not by id (a million lookups in a million-entry map,
 *   each a cache miss, for the join of a million-node fan-out).
 *
 * @module
 */
import { graphIndex } from "../graph/graph-index.js";
import type { TaskGraph } from "../graph/task-graph.js";
import type { RecordBuffer } from "./record-buffer.js";

/** The `after` length from which a node's `deps` are read by graph position (below it, the lookups by id cost no more). */
const WIDE_JOIN = 32;

/** Builds the `deps` objects of one run's attempts. */
export class AttemptDeps {
  readonly #graph: TaskGraph<unknown, unknown>;
  readonly #buffer: RecordBuffer;
  /** The `after` list the last `deps` object was built for. */
  #lastAfter: readonly string[] | undefined;

  constructor(graph: TaskGraph<unknown, unknown>, buffer: RecordBuffer) {
    this.#graph = graph;
    this.#buffer = buffer;
  }

  /** The `deps` of an attempt of node `id`, whose `after` list is `after`. */
  of(id: string, after: readonly string[]): Record<string, unknown> {
    const buffer = this.#buffer;
    if (after.length === 0) return {};
    const shared = after === this.#lastAfter;
    this.#lastAfter = after;
    const deps: Record<string, unknown> = shared ? {} : (Object.create(null) as Record<string, unknown>);
    const from = after.length >= WIDE_JOIN ? this.#predecessorsFrom(id, after) : -1;
    if (from >= 0) {
      buffer.outputsAt(deps, after, graphIndex(this.#graph).predecessors, from);
    } else {
      for (const dep of after) deps[dep] = buffer.output(dep);
    }
    if (!shared) Object.setPrototypeOf(deps, Object.prototype);
    return deps;
  }

  /**
   * Where the graph positions of node `id`'s `after` entries start in its
   * graph's index, or -1 when `after` is not that node's list (a node added
   * at run time).
   */
  #predecessorsFrom(id: string, after: readonly string[]): number {
    const graph = this.#graph;
    const index = graphIndex(graph);
    const p = index.position.get(id);
    return p !== undefined && graph.node(id)?.after === after ? index.predecessorsFrom[p]! : -1;
  }
}
