/**
 * Structural validation of a graph, run once by `build()`. It collects
 * every problem before throwing, so a user fixes a graph in one pass:
 * empty or reserved ids, duplicates, unknown or repeated dependencies, a
 * node depending on itself, cycles of `after` edges (named by the nodes on
 * them; routes may loop), bodies that are not functions, and invalid node
 * options, routes included.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { GraphDefinitionError } from "./errors.js";
import { validateDuration, validateRetryOptions } from "./retry-options.js";
import type { NodeDefinition } from "./definition.js";
import { closest } from "../core/known-keys.js";

const NODE_ID = /^[^#\s][^#]*$/;

/** Validates the parts of a graph; returns a topological order or throws {@link GraphDefinitionError}. */
export function validateGraph(name: unknown, nodes: readonly NodeDefinition[], output: unknown, dynamic = false): { order: string[] } {
  const graphName = typeof name === "string" ? name : String(name);
  const problems: string[] = [];
  if (typeof name !== "string" || name.trim() === "") problems.push("the graph needs a non-empty string name");
  if (output !== undefined && typeof output !== "function") problems.push("output must be a function");

  const ids = new Set<string>();
  for (const n of nodes) {
    if (typeof n.id !== "string" || !NODE_ID.test(n.id) || n.id.length > 200) {
      problems.push(`node id ${JSON.stringify(n.id)} is not valid (1 to 200 characters, not starting with a space, without "#")`);
      continue;
    }
    if (ids.has(n.id)) problems.push(`node id "${n.id}" is used twice`);
    ids.add(n.id);
  }
  for (const n of nodes) {
    if (typeof n.fn !== "function") problems.push(`node "${n.id}" is a ${typeof n.fn}, not a function`);
    if (!Array.isArray(n.after)) {
      problems.push(`node "${n.id}": after must be an array of node ids`);
      continue;
    }
    // Only a list of two or more can repeat an id: most nodes have one dependency, and a Set each would cost a million at a million nodes.
    const seen = n.after.length > 1 ? new Set<string>() : undefined;
    for (const dep of n.after as readonly string[]) {
      if (dep === n.id) problems.push(`node "${n.id}" depends on itself`);
      else if (!ids.has(dep)) problems.push(`node "${n.id}" runs after "${String(dep)}", which is not a node of this graph${didYouMean(dep, ids)}`);
      if (seen?.has(dep)) problems.push(`node "${n.id}" lists "${dep}" twice in after`);
      seen?.add(dep);
    }
    if (n.map !== undefined) {
      if (!ids.has(n.map.source)) {
        problems.push(`map node "${n.id}" maps "${String(n.map.source)}", which is not a node of this graph${didYouMean(n.map.source, ids)}`);
      } else if (!n.after.includes(n.map.source)) problems.push(`map node "${n.id}" must run after its source "${n.map.source}"`);
      const mc = n.map.maxConcurrency;
      if (mc !== undefined && !(mc === Infinity || (Number.isInteger(mc) && mc >= 1))) {
        problems.push(`map node "${n.id}": maxConcurrency must be a whole number of at least 1, or Infinity (got ${String(mc)})`);
      }
    }
    if (n.routes !== undefined) problems.push(...routeProblems(n, ids));
    if (n.maxVisits !== undefined && !(Number.isInteger(n.maxVisits) && n.maxVisits >= 1)) {
      problems.push(`node "${n.id}": maxVisits must be a whole number of at least 1 (got ${String(n.maxVisits)})`);
    }
    try {
      validateRetryOptions(n.retry, `node "${n.id}" retry`);
      validateDuration(n.timeoutMs, `node "${n.id}" timeoutMs`, false);
    } catch (err) {
      if (err instanceof InvalidOptionError) problems.push(err.message.replace(/\.$/, ""));
      else throw err;
    }
  }
  if (nodes.length === 0 && !dynamic) problems.push("it has no nodes");

  const order = problems.length === 0 ? topologicalOrder(nodes, problems) : [];
  if (problems.length > 0) throw new GraphDefinitionError(graphName, problems);
  return { order };
}

/** `: did you mean "fetch"?` for a misspelt node id (plain JS has no compile error to catch it), else "". */
function didYouMean(id: unknown, ids: ReadonlySet<string>): string {
  if (typeof id !== "string") return "";
  const near = closest(id, [...ids]);
  return near === undefined ? "" : `: did you mean "${near}"?`;
}

/** Problems with a node's `routes` option: its shape, and targets that are not nodes. */
function routeProblems(n: NodeDefinition, ids: ReadonlySet<string>): string[] {
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
    const targets: unknown[] = typeof raw === "string" ? [raw] : Array.isArray(raw) ? raw : [raw];
    if (typeof raw !== "string" && !Array.isArray(raw)) {
      problems.push(`node "${n.id}": route "${name}" must name a target node id or an array of them`);
      continue;
    }
    const seen = new Set<unknown>();
    for (const target of targets) {
      if (typeof target !== "string" || !ids.has(target)) {
        problems.push(`node "${n.id}": route "${name}" leads to ${JSON.stringify(target)}, which is not a node of this graph${didYouMean(target, ids)}`);
      } else if (seen.has(target)) {
        problems.push(`node "${n.id}": route "${name}" lists "${target}" twice`);
      }
      seen.add(target);
    }
  }
  return problems;
}

/** Kahn's algorithm; pushes a problem naming the nodes on cycles when there are any. */
function topologicalOrder(nodes: readonly NodeDefinition[], problems: string[]): string[] {
  const indegree = new Map<string, number>();
  // Lists only for nodes that something runs after (most nodes of a large graph have none).
  const successors = new Map<string, string[]>();
  for (const n of nodes) indegree.set(n.id, n.after.length);
  for (const n of nodes) {
    for (const dep of n.after) {
      const list = successors.get(dep);
      if (list) list.push(n.id);
      else successors.set(dep, [n.id]);
    }
  }
  // The queue is the order: every id pushed is taken once, in turn.
  const order = nodes.filter((n) => n.after.length === 0).map((n) => n.id);
  for (let i = 0; i < order.length; i++) {
    const id = order[i] as string;
    for (const s of successors.get(id) ?? []) {
      const d = (indegree.get(s) ?? 0) - 1;
      indegree.set(s, d);
      if (d === 0) order.push(s);
    }
  }
  if (order.length < nodes.length) {
    const onCycle = nodes.filter((n) => (indegree.get(n.id) ?? 0) > 0).map((n) => `"${n.id}"`);
    problems.push(`it has a cycle through ${onCycle.slice(0, 10).join(", ")}${onCycle.length > 10 ? ", …" : ""}`);
  }
  return order;
}
