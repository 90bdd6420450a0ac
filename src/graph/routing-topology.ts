/**
 * What a graph's routing edges imply, computed once when a graph with
 * routes is built.
 *
 * A route edge `S → T` is a *back edge* when `S` can be reached from `T`
 * (through `after` edges and routes): it closes a loop. Otherwise it is a
 * *forward* edge. A node with at least one forward route into it is
 * *route-gated*: it runs only when a route chooses it, and its `after`
 * list is data it reads. A node reached only by back edges (a loop head)
 * starts from its `after` list like any node, and runs again each time a
 * route leads back to it.
 *
 * @module
 */
import type { NodeDefinition } from "./task-graph.js";
import type { RouteTable } from "./route.js";

/** Routing edges of a graph and the node kinds they imply. */
export class RoutingTopology {
  readonly #nodes: ReadonlyMap<string, NodeDefinition>;
  readonly #successors: ReadonlyMap<string, readonly string[]>;
  /** Routing nodes that route into each node. */
  readonly #sources = new Map<string, string[]>();
  /** For each node, the routing nodes with a forward route into it. */
  readonly #forwardSources = new Map<string, string[]>();

  constructor(nodes: ReadonlyMap<string, NodeDefinition>, successors: ReadonlyMap<string, readonly string[]>) {
    this.#nodes = nodes;
    this.#successors = successors;
    for (const [id, node] of nodes) {
      const routes = node.routes as RouteTable | undefined;
      if (!routes) continue;
      const targets = new Set(Object.values(routes).flat());
      for (const target of targets) {
        let list = this.#sources.get(target);
        if (!list) this.#sources.set(target, (list = []));
        list.push(id);
      }
    }
    for (const [target, sources] of this.#sources) {
      const reach = this.#reachableFrom(target);
      const forward = sources.filter((s) => s !== target && !reach.has(s));
      if (forward.length > 0) this.#forwardSources.set(target, forward);
    }
  }

  /** The routing nodes that have a route into `id`. */
  routeSources(id: string): readonly string[] {
    return this.#sources.get(id) ?? [];
  }

  /** True when some earlier node routes into `id`: it runs only when a route chooses it. */
  isGated(id: string): boolean {
    return this.#forwardSources.has(id);
  }

  /** The nodes whose settling can make `id` run: its `after` nodes and the nodes that route into it. */
  predecessors(id: string): readonly string[] {
    const after = this.#nodes.get(id)?.after ?? [];
    const sources = this.#sources.get(id);
    return sources ? [...after, ...sources] : after;
  }

  /** The nodes that run after `id` or that `id` routes to. */
  #next(id: string): string[] {
    const routes = this.#nodes.get(id)?.routes as RouteTable | undefined;
    const after = this.#successors.get(id) ?? [];
    return routes ? [...after, ...Object.values(routes).flat()] : [...after];
  }

  /** Every node reachable from `start` (not counting `start` itself unless a loop returns to it). */
  #reachableFrom(start: string): Set<string> {
    const seen = new Set<string>();
    const stack = this.#next(start);
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (seen.has(id)) continue;
      seen.add(id);
      stack.push(...this.#next(id));
    }
    return seen;
  }

  /** Problems that routing makes in an otherwise valid graph (for `GraphDefinitionError`). */
  problems(): string[] {
    const problems: string[] = [];
    for (const [id, node] of this.#nodes) {
      if (node.map !== undefined && this.#reachableFrom(id).has(id)) {
        problems.push(`map node "${id}" is on a routing loop; a map node runs once per run, so move the loop around it`);
      }
      const forward = this.#forwardSources.get(id);
      if (!forward) continue;
      for (const dep of node.after) {
        for (const source of forward) {
          if (source === dep || this.#reachableFrom(dep).has(source)) continue;
          problems.push(
            `node "${id}" runs only when "${source}" routes to it, and lists "${dep}" in after, which "${source}" does not run after; ` +
              `add "${dep}" to the after list of "${source}", or drop it from "${id}"`,
          );
        }
      }
    }
    return problems;
  }
}
