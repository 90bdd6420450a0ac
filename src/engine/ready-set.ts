/**
 * Ready-set propagation, pure: no timers, no I/O, no promises. Given a
 * graph and a run state, {@link ReadySet} says which nodes can start now
 * and, each time a node settles, which nodes that unblocks.
 *
 * A node is ready when every node in its `after` list has settled
 * (succeeded or been skipped): an AND-join. The set keeps, per unsettled
 * node, the number of dependencies still unsettled, so settling a node
 * costs O(its successors), whatever the graph's size: the join of a
 * 100,000-wide fan-out is decremented 100,000 times, never rescanned.
 *
 * Layout. The counts are an `Int32Array` indexed by the node's position
 * in `graph.order` (-1 once settled), and the successors of each position
 * are positions too, in one flat array: settling a node costs one map
 * lookup (its position), not the five of a map of counts (delete, the
 * successor list, then a get and a set per successor), and a fresh run
 * starts from a copy of the graph's dependency counts instead of a map
 * filled one node at a time. The positions, successor lists and counts
 * depend on the graph alone (graphs are immutable), so the graph builds
 * them with its other tables and every run reads them (`graph/graph-index.ts`).
 * Building the set from a resumed state ({@link ReadySet.fromState}) takes
 * each settled record's graph position from where it sits in the state's
 * table (a run made from the graph holds node `order[p]` at position p),
 * so a mostly settled 10,000-node run costs no map lookup and no set of
 * ids; a record elsewhere (a map element, another layout) is looked up.
 * A resume's state as its reset made it needs no pass at all: the reset
 * kept the positions of the settled records (`resumeFacts`).
 *
 * What the set says is positions too: the nodes ready at the start and
 * those a settle unblocks are graph positions, and a settle may be told
 * the node's position. The run then carries each node's position from the
 * set to its records and back (`RunLoop.dispatchAt`, `Attempts`), and
 * never looks an id up on the way: in a million-node run each lookup in
 * the million-entry map of positions misses the cache (issue 16, target 6).
 *
 * @module
 */
import { graphIndex, type GraphIndex } from "../graph/graph-index.js";
import type { TaskGraph } from "../graph/task-graph.js";
import { resumeFacts, type RunState } from "../state/run-state.js";
import { indexedBy } from "../state/node-table.js";
import { isNodeSettled } from "../state/status.js";

const NONE: readonly number[] = Object.freeze([]);

/** Tracks which nodes are blocked on which. */
export class ReadySet {
  readonly #order: readonly string[];
  readonly #index: GraphIndex;
  /** Per position: the dependencies still unsettled, or -1 once the node settled. */
  readonly #left: Int32Array;
  #unsettled: number;

  /** `settled` holds the positions of the settled nodes, in its first `count` slots (each once). */
  private constructor(graph: TaskGraph<unknown, unknown>, settled: Int32Array, count: number) {
    const index = graphIndex(graph);
    this.#order = graph.order;
    this.#index = index;
    this.#left = index.dependencies.slice();
    this.#unsettled = this.#order.length - count;
    if (count === 0) return;
    const { successorsFrom, successors } = index;
    const left = this.#left;
    for (let i = 0; i < count; i++) left[settled[i]!] = -1;
    // What a node waits on: its dependencies not settled (a settled node's count no longer matters).
    for (let i = 0; i < count; i++) {
      const p = settled[i]!;
      for (let k = successorsFrom[p]!, end = successorsFrom[p + 1]!; k < end; k++) {
        const s = successors[k]!;
        if (left[s]! > 0) left[s]! -= 1;
      }
    }
  }

  /** Builds the set from a run state; `ready` lists the graph positions of the nodes that can start now, in topological order. */
  static fromState(graph: TaskGraph<unknown, unknown>, state: RunState): { readySet: ReadySet; ready: number[] } {
    const order = graph.order;
    const { position } = graphIndex(graph);
    // The graph positions of the settled nodes, each once. A record's position in the state's table is
    // its graph position when the ids agree there (a run made from this graph: no map lookup); any other
    // record (a map element, a step, a node of another layout) is looked up.
    const facts = resumeFacts(state.nodes);
    if (facts !== undefined && indexedBy(state.nodes, position)) {
      // A resume's reset told them (resetUnfinished): the table holds node `order[p]` at each position p of the
      // graph (it is indexed by the graph's own map), so a settled position below the graph's size is that node's.
      let count = 0;
      while (count < facts.settled.length && facts.settled[count]! < order.length) count += 1;
      return this.#withSettled(graph, facts.settled, count);
    }
    const settled = new Int32Array(order.length);
    const seen = new Uint8Array(order.length);
    let count = 0;
    let at = 0;
    // Indexed loops over the table's shards, not its record iterator: this runs once per resume, mostly
    // before it is optimized, where each iterator step allocates its result.
    const shards = state.nodes.shards;
    for (let s = 0; s < shards.length; s++) {
      const shard = shards[s]!;
      for (let i = 0; i < shard.length; i++, at++) {
        const n = shard[i]!;
        if (!isNodeSettled(n.status)) continue;
        const g = at < order.length && order[at] === n.id ? at : position.get(n.id);
        if (g === undefined || seen[g] === 1) continue;
        seen[g] = 1;
        settled[count++] = g;
      }
    }
    return this.#withSettled(graph, settled, count);
  }

  /** The set whose settled nodes are the graph positions in `settled`'s first `count` slots, and the nodes ready in it. */
  static #withSettled(graph: TaskGraph<unknown, unknown>, settled: Int32Array, count: number): { readySet: ReadySet; ready: number[] } {
    // `this`, not the class's name: a class body that names its class is renamed by the build (scripts/build.mjs).
    const readySet = new this(graph, settled, count);
    const ready: number[] = [];
    const left = readySet.#left;
    for (let p = 0; p < left.length; p++) if (left[p] === 0) ready.push(p);
    return { readySet, ready };
  }

  /** The number of nodes not yet settled. */
  get unsettled(): number {
    return this.#unsettled;
  }

  /** True when `id` has not settled. */
  isUnsettled(id: string): boolean {
    const p = this.#index.position.get(id);
    return p !== undefined && this.#left[p]! >= 0;
  }

  /**
   * Records that `id` settled; returns the graph positions of the nodes that
   * became ready because of it (most settles: none, and no new list).
   * `position`, when known (not -1), is `id`'s graph position: no lookup.
   */
  settle(id: string, position = -1): readonly number[] {
    const p = position >= 0 && this.#order[position] === id ? position : this.#index.position.get(id);
    const left = this.#left;
    if (p === undefined || left[p]! < 0) return NONE;
    left[p] = -1;
    this.#unsettled -= 1;
    const { successorsFrom, successors } = this.#index;
    let ready: number[] | undefined;
    for (let k = successorsFrom[p]!, end = successorsFrom[p + 1]!; k < end; k++) {
      const s = successors[k]!;
      if (left[s]! <= 0) continue;
      left[s]! -= 1;
      // A literal of one: most settles unblock one node at most, and an empty array's first push allocates room for 17.
      if (left[s] === 0) {
        if (ready === undefined) ready = [s];
        else ready.push(s);
      }
    }
    return ready ?? NONE;
  }
}
