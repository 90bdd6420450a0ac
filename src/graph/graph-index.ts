/**
 * A graph's nodes by position (their index in the graph's topological
 * `order`), as flat arrays: what the engine's ready set counts with. It
 * depends on the graph alone (graphs are immutable), so the graph builds
 * it once, with its other tables, and every run of the graph reads it:
 * a run does no per-node work to index its graph (issue 16, target 6: a
 * million-node graph's index built inside its first run cost about a
 * tenth of that run, and ten times as much per node as at 100,000, the
 * million-entry map's lookups missing the cache).
 *
 * The index is kept beside the graph (a `WeakMap`, gone with the graph),
 * not on it: `TaskGraph`'s public shape stays as it was. A graph-like
 * object the constructor did not index (none in the library) gets one
 * built on first use, from its `order`, `node` and `successors`.
 *
 * @module
 */
import type { GraphNode } from "./definition.js";

/** A graph's nodes by position (see the module comment). */
export interface GraphIndex {
  /** The position of each node id. */
  readonly position: ReadonlyMap<string, number>;
  /** The node at each position (what an attempt queued with its position runs, found with no id lookup). */
  readonly nodes: readonly GraphNode[];
  /** The successors of position `p` are `successors[successorsFrom[p] .. successorsFrom[p + 1])`, in the graph's successor order. */
  readonly successorsFrom: Int32Array;
  readonly successors: Int32Array;
  /** The number of `after` entries of each position. */
  readonly dependencies: Int32Array;
  /**
   * The `after` entries of position `p`, as positions in the node's `after` order, are
   * `predecessors[predecessorsFrom[p] .. predecessorsFrom[p + 1])` (what a wide join's `deps` reads).
   */
  readonly predecessorsFrom: Int32Array;
  readonly predecessors: Int32Array;
}

/** What {@link graphIndex} reads of a graph it was not given an index for. */
export interface IndexableGraph {
  readonly order: readonly string[];
  node(id: string): GraphNode | undefined;
  successors(id: string): readonly string[];
}

const indexes = new WeakMap<object, GraphIndex>();

/** Records `index` as `graph`'s (the graph's constructor calls this once). */
export function setGraphIndex(graph: object, index: GraphIndex): void {
  indexes.set(graph, index);
}

/** The index of `graph`: the one its constructor recorded, else one built now and kept. */
export function graphIndex(graph: IndexableGraph): GraphIndex {
  let index = indexes.get(graph);
  if (index !== undefined) return index;
  const order = graph.order;
  const position = new Map<string, number>();
  for (let p = 0; p < order.length; p++) position.set(order[p]!, p);
  const nodes = order.map((id) => graph.node(id)!);
  index = buildGraphIndex(position, nodes, (p) => graph.successors(order[p]!));
  indexes.set(graph, index);
  return index;
}

/**
 * Builds an index from the position of each id, the node at each position
 * (its `after` list read) and the successor ids of each position (ids
 * `position` does not hold are given position -1, which no count reaches
 * and no reader takes).
 */
export function buildGraphIndex(
  position: ReadonlyMap<string, number>,
  nodes: readonly GraphNode[],
  successorsAt: (p: number) => readonly string[],
): GraphIndex {
  const after = nodes.map((n) => n?.after ?? []);
  const size = after.length;
  const successorsFrom = new Int32Array(size + 1);
  const dependencies = new Int32Array(size);
  let total = 0;
  for (let p = 0; p < size; p++) {
    successorsFrom[p] = total;
    total += successorsAt(p).length;
    dependencies[p] = after[p]!.length;
  }
  successorsFrom[size] = total;
  const successors = new Int32Array(total);
  for (let p = 0, k = 0; p < size; p++) {
    for (const s of successorsAt(p)) successors[k++] = position.get(s) ?? -1;
  }
  const predecessorsFrom = new Int32Array(size + 1);
  let edges = 0;
  for (let p = 0; p < size; p++) {
    predecessorsFrom[p] = edges;
    edges += dependencies[p]!;
  }
  predecessorsFrom[size] = edges;
  const predecessors = new Int32Array(edges);
  for (let p = 0, k = 0; p < size; p++) {
    for (const d of after[p]!) predecessors[k++] = position.get(d) ?? -1;
  }
  return { position, nodes, successorsFrom, successors, dependencies, predecessorsFrom, predecessors };
}

/**
 * Builds an index from positions a graph's constructor has already looked
 * up: `position` (each id's), the position of each node as the nodes were
 * given (`nodePosition[i]` for `after[i]`, their `after` lists), and the
 * position of every `after` entry, node by node in that order
 * (`afterPositions`). No id is looked up again: at a million nodes each
 * lookup misses the cache, and {@link buildGraphIndex} makes four per edge.
 * Successors are listed in the order the nodes were given, as the graph's
 * `successors` lists them.
 */
export function buildGraphIndexAt(
  position: ReadonlyMap<string, number>,
  nodes: readonly GraphNode[],
  nodePosition: Int32Array,
  after: readonly (readonly string[])[],
  afterPositions: Int32Array,
): GraphIndex {
  const size = nodePosition.length;
  const dependencies = new Int32Array(size);
  const successorsFrom = new Int32Array(size + 1);
  for (let i = 0, k = 0; i < size; i++) {
    const count = after[i]!.length;
    dependencies[nodePosition[i]!] = count;
    for (const end = k + count; k < end; k++) successorsFrom[afterPositions[k]! + 1]! += 1;
  }
  for (let p = 0; p < size; p++) successorsFrom[p + 1]! += successorsFrom[p]!;
  const predecessorsFrom = new Int32Array(size + 1);
  for (let p = 0; p < size; p++) predecessorsFrom[p + 1] = predecessorsFrom[p]! + dependencies[p]!;
  const edges = afterPositions.length;
  const successors = new Int32Array(edges);
  const predecessors = new Int32Array(edges);
  const fill = successorsFrom.slice(0, size);
  for (let i = 0, k = 0; i < size; i++) {
    const q = nodePosition[i]!;
    for (let j = predecessorsFrom[q]!, end = k + after[i]!.length; k < end; k++, j++) {
      const p = afterPositions[k]!;
      predecessors[j] = p;
      successors[fill[p]!++] = q;
    }
  }
  return { position, nodes, successorsFrom, successors, dependencies, predecessorsFrom, predecessors };
}
