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
 * A settled node keeps its entry, marked {@link SETTLED}, instead of being
 * deleted: deleting most of a big `Map`'s entries makes V8 shrink it into
 * ever smaller tables, each a new allocation in old space (the large-object
 * space, for a big set) that stays there until the next full GC, so a
 * million-node run would hold the set about twice over at its end.
 *
 * @module
 */
import type { TaskGraph } from "../graph/task-graph.js";
import { nodeRecords } from "../state/node-table.js";
import type { RunState } from "../state/run-state.js";
import { isNodeSettled } from "../state/status.js";

const NONE: readonly string[] = Object.freeze([]);
/** The count of a node that settled (its entry is kept: see the module's doc). */
const SETTLED = -1;

/** Tracks which nodes are blocked on which. */
export class ReadySet {
  readonly #graph: TaskGraph<unknown, unknown>;
  /** Per node: its unsettled dependencies, or {@link SETTLED}. */
  readonly #waitingOn = new Map<string, number>();
  #unsettled = 0;

  private constructor(graph: TaskGraph<unknown, unknown>, settled: ReadonlySet<string>) {
    this.#graph = graph;
    for (const id of graph.order) {
      if (settled.has(id)) continue;
      let unsettled = 0;
      for (const dep of graph.node(id)?.after ?? []) if (!settled.has(dep)) unsettled += 1;
      this.#waitingOn.set(id, unsettled);
    }
    this.#unsettled = this.#waitingOn.size;
  }

  /** Builds the set from a run state; `ready` lists the nodes that can start now, in topological order. */
  static fromState(graph: TaskGraph<unknown, unknown>, state: RunState): { readySet: ReadySet; ready: string[] } {
    const settled = new Set<string>();
    for (const n of nodeRecords(state.nodes)) if (isNodeSettled(n.status)) settled.add(n.id);
    const readySet = new ReadySet(graph, settled);
    const ready: string[] = [];
    for (const [id, left] of readySet.#waitingOn) if (left === 0) ready.push(id);
    return { readySet, ready };
  }

  /** The number of nodes not yet settled. */
  get unsettled(): number {
    return this.#unsettled;
  }

  /** True when `id` has not settled. */
  isUnsettled(id: string): boolean {
    const left = this.#waitingOn.get(id);
    return left !== undefined && left !== SETTLED;
  }

  /** Records that `id` settled; returns the nodes that became ready because of it (most settles: none, and no new list). */
  settle(id: string): readonly string[] {
    const own = this.#waitingOn.get(id);
    if (own === undefined || own === SETTLED) return NONE;
    this.#waitingOn.set(id, SETTLED);
    this.#unsettled -= 1;
    let ready: string[] | undefined;
    for (const s of this.#graph.successors(id)) {
      const left = this.#waitingOn.get(s);
      if (left === undefined || left === SETTLED) continue;
      this.#waitingOn.set(s, left - 1);
      if (left - 1 === 0) (ready ??= []).push(s);
    }
    return ready ?? NONE;
  }
}
