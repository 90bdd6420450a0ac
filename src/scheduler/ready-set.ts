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
 * @module
 */
import type { TaskGraph } from "../graph/task-graph.js";
import { getNode } from "../state/node-table.js";
import type { RunState } from "../state/run-state.js";
import { isNodeSettled, type NodeStatus } from "../state/status.js";

/** Tracks which nodes are blocked on which. */
export class ReadySet {
  readonly #graph: TaskGraph<unknown, unknown>;
  readonly #waitingOn = new Map<string, number>();

  /**
   * @param graph the graph
   * @param statusOf the current status of a node (from the run state)
   */
  private constructor(graph: TaskGraph<unknown, unknown>, statusOf: (id: string) => NodeStatus) {
    this.#graph = graph;
    for (const id of graph.order) {
      if (isNodeSettled(statusOf(id))) continue;
      const node = graph.node(id);
      let unsettled = 0;
      for (const dep of node?.after ?? []) if (!isNodeSettled(statusOf(dep))) unsettled += 1;
      this.#waitingOn.set(id, unsettled);
    }
  }

  /** Builds the set from a run state; `ready` lists the nodes that can start now, in topological order. */
  static fromState(graph: TaskGraph<unknown, unknown>, state: RunState): { readySet: ReadySet; ready: string[] } {
    const statusOf = (id: string): NodeStatus => getNode(state.nodes, id)?.status ?? "pending";
    const readySet = new ReadySet(graph, statusOf);
    const ready = graph.order.filter((id) => readySet.#waitingOn.get(id) === 0);
    return { readySet, ready };
  }

  /** The number of nodes not yet settled. */
  get unsettled(): number {
    return this.#waitingOn.size;
  }

  /** True when `id` has not settled. */
  isUnsettled(id: string): boolean {
    return this.#waitingOn.has(id);
  }

  /** Records that `id` settled; returns the nodes that became ready because of it. */
  settle(id: string): string[] {
    if (!this.#waitingOn.delete(id)) return [];
    const ready: string[] = [];
    for (const s of this.#graph.successors(id)) {
      const left = this.#waitingOn.get(s);
      if (left === undefined) continue;
      this.#waitingOn.set(s, left - 1);
      if (left - 1 === 0) ready.push(s);
    }
    return ready;
  }
}
