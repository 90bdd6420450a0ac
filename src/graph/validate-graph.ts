/**
 * Structural validation of a graph, run once by `build()`. It collects
 * every problem before throwing, so a user fixes a graph in one pass:
 * empty or reserved ids (`"__proto__"`, whose output an outputs object
 * could not hold), duplicates, an id that is a map element's (`m[0]`
 * beside map node `m`), unknown or repeated dependencies, a
 * node depending on itself, cycles of `after` edges (named by the nodes on
 * them; routes may loop), bodies that are not functions, and invalid node
 * options, routes included.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { GraphDefinitionError } from "./errors.js";
import { MAX_TIMER_MS, validateDuration, validateRetryOptions } from "./retry-options.js";
import type { NodeDefinition } from "./definition.js";
import { closest } from "../core/known-keys.js";

const NODE_ID = /^[^#\s][^#]*$/;

/** A valid graph's topological order, and the position of each id in it. */
export interface ValidatedOrder {
  /** Node ids in a topological order (every node after all it depends on). */
  readonly order: string[];
  /** The position of each id in `order` (the map validation looked ids up in, when `order` is the nodes' own order). */
  readonly position: Map<string, number>;
}

/**
 * True for an id no node may have: `"__proto__"`. A run keeps node outputs
 * in objects keyed by id, where that key sets the object's prototype, so
 * the node's output would be lost. The one place of this rule: the builder
 * (`validateGraph`) and a spec's check (`specProblems`, before `fromSpec`
 * builds) both refuse such an id through it, each with its own message.
 * Other names of `Object.prototype` ("constructor") are plain ids.
 *
 * @example
 * ```ts
 * isReservedNodeId("__proto__"); // true
 * isReservedNodeId("constructor"); // false
 * ```
 */
export function isReservedNodeId(id: unknown): boolean {
  return id === "__proto__";
}

/** Validates the parts of a graph; returns a topological order or throws {@link GraphDefinitionError}. */
export function validateGraph(name: unknown, nodes: readonly NodeDefinition[], output: unknown, dynamic = false): ValidatedOrder {
  const graphName = typeof name === "string" ? name : String(name);
  const problems: string[] = [];
  if (typeof name !== "string" || name.trim() === "") problems.push("the graph needs a non-empty string name");
  if (output !== undefined && typeof output !== "function") problems.push("output must be a function");

  // Each id's index in `nodes` (its first, for an id used twice).
  const ids = new Map<string, number>();
  const hints = new Hints(ids);
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (typeof n.id !== "string" || !NODE_ID.test(n.id) || n.id.length > 200) {
      problems.push(`node id ${JSON.stringify(n.id)} is not valid (1 to 200 characters, not starting with a space, without "#")`);
      continue;
    }
    if (isReservedNodeId(n.id)) {
      problems.push(`node id "__proto__" is reserved (a run's outputs object could not hold its output); rename it`);
      continue;
    }
    if (ids.has(n.id)) problems.push(`node id "${n.id}" is used twice`);
    else ids.set(n.id, i);
  }
  for (const n of nodes) {
    if (typeof n.id === "string" && n.id.endsWith("]")) {
      const element = elementOf(n.id, nodes, ids);
      if (element !== undefined) {
        problems.push(`node id "${n.id}" is the id of element ${element.index} of map node "${element.map}"; rename one of them`);
      }
    }
    if (typeof n.fn !== "function") problems.push(`node "${n.id}" is a ${typeof n.fn}, not a function`);
    if (!Array.isArray(n.after)) {
      problems.push(`node "${n.id}": after must be an array of node ids`);
      continue;
    }
    // Only a list of two or more can repeat an id: most nodes have one dependency, and a Set each would cost a million at a million nodes.
    const seen = n.after.length > 1 ? new Set<string>() : undefined;
    for (const dep of n.after as readonly string[]) {
      if (dep === n.id) problems.push(`node "${n.id}" depends on itself`);
      else if (!ids.has(dep)) problems.push(`node "${n.id}" runs after "${String(dep)}", which is not a node of this graph${hints.didYouMean(dep)}`);
      if (seen?.has(dep)) problems.push(`node "${n.id}" lists "${dep}" twice in after`);
      seen?.add(dep);
    }
    if (n.map !== undefined) {
      if (!ids.has(n.map.source)) {
        problems.push(`map node "${n.id}" maps "${String(n.map.source)}", which is not a node of this graph${hints.didYouMean(n.map.source)}`);
      } else if (!n.after.includes(n.map.source)) problems.push(`map node "${n.id}" must run after its source "${n.map.source}"`);
      const mc = n.map.maxConcurrency;
      if (mc !== undefined && !(mc === Infinity || (Number.isInteger(mc) && mc >= 1))) {
        problems.push(`map node "${n.id}": maxConcurrency must be a whole number of at least 1, or Infinity (got ${String(mc)})`);
      }
    }
    if (n.routes !== undefined) problems.push(...routeProblems(n, ids, hints));
    if (n.maxVisits !== undefined && !(Number.isInteger(n.maxVisits) && n.maxVisits >= 1)) {
      problems.push(`node "${n.id}": maxVisits must be a whole number of at least 1 (got ${String(n.maxVisits)})`);
    }
    // Each check apart: a bad retry does not hide a bad timeout of the same node.
    for (const check of [
      () => validateRetryOptions(n.retry, `node "${n.id}" retry`),
      () => validateDuration(n.timeoutMs, `node "${n.id}" timeoutMs`, false, MAX_TIMER_MS),
    ]) {
      try {
        check();
      } catch (err) {
        if (err instanceof InvalidOptionError) problems.push(err.message.replace(/\.$/, ""));
        else throw err;
      }
    }
  }
  if (nodes.length === 0 && !dynamic) problems.push("it has no nodes");

  const sorted = problems.length === 0 ? topologicalOrder(nodes, ids, problems) : undefined;
  if (problems.length > 0 || sorted === undefined) throw new GraphDefinitionError(graphName, problems);
  const order = Array.from(sorted, (i) => nodes[i]!.id);
  if (sorted.every((i, p) => i === p)) return { order, position: ids };
  const position = new Map<string, number>();
  for (let p = 0; p < order.length; p++) position.set(order[p]!, p);
  return { order, position };
}

/**
 * The map node and index whose element activation has id `id` (`m[3]`,
 * the element ids `core/ids.ts` makes), when `m` is a map node of the
 * graph: a node of that id would share its record with the element.
 */
function elementOf(id: string, nodes: readonly NodeDefinition[], ids: ReadonlyMap<string, number>): { map: string; index: number } | undefined {
  const m = /\[(0|[1-9]\d*)\]$/.exec(id);
  if (!m) return undefined;
  const map = id.slice(0, m.index);
  const at = ids.get(map);
  return at !== undefined && nodes[at]!.map !== undefined ? { map, index: Number(m[1]) } : undefined;
}

/** `: did you mean "fetch"?` for a misspelt node id (plain JS has no compile error to catch it), else "". */
/**
 * "Did you mean" hints for unknown ids, for the first {@link MAX_HINTS}
 * only: each compares the id with every node id, so a hint for each of
 * thousands of unknown references took minutes (2,000 nodes: 4.4 s; 8,000:
 * 104 s); past ten, a user fixes the references, not typos.
 */
class Hints {
  #left = MAX_HINTS;
  #keys: string[] | undefined;
  readonly #ids: ReadonlyMap<string, number>;

  constructor(ids: ReadonlyMap<string, number>) {
    this.#ids = ids;
  }

  didYouMean(id: unknown): string {
    if (typeof id !== "string" || this.#left <= 0) return "";
    this.#left--;
    this.#keys ??= [...this.#ids.keys()];
    const near = closest(id, this.#keys);
    return near === undefined ? "" : `: did you mean "${near}"?`;
  }
}

/** How many unknown ids of one graph get a "did you mean" hint. */
const MAX_HINTS = 10;

/** Problems with a node's `routes` option: its shape, and targets that are not nodes. */
function routeProblems(n: NodeDefinition, ids: ReadonlyMap<string, number>, hints: Hints): string[] {
  const routes: unknown = n.routes;
  if (routes === null || typeof routes !== "object" || Array.isArray(routes)) {
    return [`node "${n.id}": routes must be an object of route name → target node id(s)`];
  }
  if (n.map !== undefined) return [`map node "${n.id}" cannot have routes; route from the node that reads its output`];
  const entries = Object.entries(routes as Record<string, unknown>);
  if (entries.length === 0) return [`node "${n.id}": routes is empty; declare at least one route, or drop the option`];
  const problems: string[] = [];
  for (const [name, raw] of entries) {
    if (name.trim() === "" || name.length > 100) {
      problems.push(`node "${n.id}": route name ${JSON.stringify(name)} is not valid (1 to 100 characters)`);
    }
    // Kept as a key of an object, where "__proto__" sets the prototype: the route would be lost in silence.
    if (name === "__proto__") problems.push(`node "${n.id}": a route cannot be named "__proto__"; rename it`);
    const targets: unknown[] = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : [raw];
    if (typeof raw !== "string" && !Array.isArray(raw)) {
      problems.push(`node "${n.id}": route "${name}" must name a target node id or an array of them`);
      continue;
    }
    const seen = new Set<unknown>();
    for (const target of targets) {
      if (typeof target !== "string" || !ids.has(target)) {
        problems.push(`node "${n.id}": route "${name}" leads to ${JSON.stringify(target)}, which is not a node of this graph${hints.didYouMean(target)}`);
      } else if (seen.has(target)) {
        problems.push(`node "${n.id}": route "${name}" lists "${target}" twice`);
      }
      seen.add(target);
    }
  }
  return problems;
}

/**
 * Kahn's algorithm over indices into `nodes` (`index` gives each id's; every
 * id is unique and every dependency a node, checked before): returns the
 * order as indices, roots first in the nodes' order, then each node once
 * its last dependency is taken, dependents in the order the nodes list
 * them. Pushes a problem naming the nodes on cycles when there are any.
 * Flat integer arrays rather than maps by id: at a million nodes each map
 * operation misses the cache, and this made about a fifth of a build.
 */
function topologicalOrder(nodes: readonly NodeDefinition[], index: ReadonlyMap<string, number>, problems: string[]): Int32Array {
  const size = nodes.length;
  const indegree = new Int32Array(size);
  // The dependents of node i are dependents[from[i] .. from[i + 1]), in the nodes' order.
  const from = new Int32Array(size + 1);
  let edges = 0;
  for (let i = 0; i < size; i++) {
    const after = nodes[i]!.after;
    indegree[i] = after.length;
    edges += after.length;
  }
  const dep = new Int32Array(edges);
  for (let i = 0, k = 0; i < size; i++) {
    for (const id of nodes[i]!.after) {
      const d = index.get(id)!;
      dep[k++] = d;
      from[d + 1]! += 1;
    }
  }
  for (let i = 0; i < size; i++) from[i + 1]! += from[i]!;
  const dependents = new Int32Array(edges);
  const fill = from.slice(0, size);
  for (let i = 0, k = 0; i < size; i++) {
    for (let a = nodes[i]!.after.length; a > 0; a--) dependents[fill[dep[k++]!]!++] = i;
  }
  // The queue is the order: every index pushed is taken once, in turn.
  const order = new Int32Array(size);
  let length = 0;
  for (let i = 0; i < size; i++) if (indegree[i] === 0) order[length++] = i;
  for (let q = 0; q < length; q++) {
    const i = order[q]!;
    for (let k = from[i]!, end = from[i + 1]!; k < end; k++) {
      const s = dependents[k]!;
      if (--indegree[s]! === 0) order[length++] = s;
    }
  }
  if (length < size) {
    const onCycle = nodes.filter((_, i) => indegree[i]! > 0).map((n) => `"${n.id}"`);
    problems.push(`it has a cycle through ${onCycle.slice(0, 10).join(", ")}${onCycle.length > 10 ? ", …" : ""}`);
  }
  return order.subarray(0, length);
}
