/**
 * What a graph's routing edges imply, computed once when a graph with
 * routes is built.
 *
 * A route edge `S → T` is a *back edge* when it closes a loop: a
 * depth-first walk over `after` edges and routes, from the nodes in the
 * order they were declared, finds `T` on its current path when it takes
 * the route. Otherwise it is a *forward* edge. (In a loop of routes only,
 * the node declared first is the loop's head.) A node with at least one forward route into it is
 * *route-gated*: it runs only when a route chooses it, and its `after`
 * list is data it reads. A node reached only by back edges (a loop head)
 * starts from its `after` list like any node, and runs again each time a
 * route leads back to it.
 *
 * Invariants: built once per graph from its frozen nodes (see `GraphNode`:
 * routes already normalized) and never changed; it reads only the types in
 * `definition.ts`, so `TaskGraph` can build it without an import cycle.
 *
 * @module
 */
import type { GraphNode } from "./definition.js";

/** Routing edges of a graph and the node kinds they imply. */
export class RoutingTopology {
  readonly #nodes: ReadonlyMap<string, GraphNode>;
  readonly #successors: ReadonlyMap<string, readonly string[]>;
  /** Routing nodes that route into each node. */
  readonly #sources = new Map<string, string[]>();
  /** For each node, the routing nodes with a forward route into it. */
  readonly #forwardSources = new Map<string, string[]>();
  /** {@link RoutingTopology.predecessors}, made once per node that has any: a run's ready-set asks at every settle. */
  readonly #predecessors = new Map<string, readonly string[]>();
  /** {@link RoutingTopology.routeTargets}, made once per routing node. */
  readonly #routeTargets = new Map<string, readonly string[]>();

  constructor(nodes: ReadonlyMap<string, GraphNode>, successors: ReadonlyMap<string, readonly string[]>) {
    this.#nodes = nodes;
    this.#successors = successors;
    for (const [id, node] of nodes) {
      const routes = node.routes;
      if (!routes) continue;
      const all = Object.values(routes).flat();
      this.#routeTargets.set(id, all);
      for (const target of new Set(all)) {
        let list = this.#sources.get(target);
        if (!list) this.#sources.set(target, (list = []));
        list.push(id);
      }
    }
    for (const [target, sources] of this.#backEdgeFree()) {
      if (sources.length > 0) this.#forwardSources.set(target, sources);
    }
    for (const [id, sources] of this.#sources) this.#predecessors.set(id, [...(nodes.get(id)?.after ?? []), ...sources]);
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
    return this.#predecessors.get(id) ?? this.#nodes.get(id)?.after ?? [];
  }

  /** Every target of every route of `id`, route by route in declared order (a target twice if two routes name it); empty when `id` does not route. */
  routeTargets(id: string): readonly string[] {
    return this.#routeTargets.get(id) ?? [];
  }

  /** The nodes that run after `id` or that `id` routes to. */
  #next(id: string): string[] {
    return [...(this.#successors.get(id) ?? []), ...this.routeTargets(id)];
  }

  /**
   * For each route target, its sources whose route is not a back edge. A
   * depth-first walk over `after` edges and routes, from the nodes in the
   * order they were declared, marks as back edges the routes that return
   * to a node on the walk's current path. So a loop made of routes only
   * has one head: the node of the loop declared first.
   */
  #backEdgeFree(): Map<string, string[]> {
    const forward = new Map<string, string[]>();
    const state = new Map<string, "open" | "done">();
    for (const root of this.#nodes.keys()) {
      if (state.has(root)) continue;
      state.set(root, "open");
      const stack: { id: string; next: { to: string; routed: boolean }[] }[] = [{ id: root, next: this.#edges(root) }];
      while (stack.length > 0) {
        const top = stack[stack.length - 1] as (typeof stack)[number];
        const edge = top.next.pop();
        if (!edge) {
          state.set(top.id, "done");
          stack.pop();
          continue;
        }
        const seen = state.get(edge.to);
        if (edge.routed && seen !== "open") {
          let list = forward.get(edge.to);
          if (!list) forward.set(edge.to, (list = []));
          if (!list.includes(top.id)) list.push(top.id);
        }
        if (seen === undefined) {
          state.set(edge.to, "open");
          stack.push({ id: edge.to, next: this.#edges(edge.to) });
        }
      }
    }
    return forward;
  }

  /** The edges out of `id`, last first (so the walk takes them in declared order). */
  #edges(id: string): { to: string; routed: boolean }[] {
    const routes = this.#nodes.get(id)?.routes;
    const edges = (this.#successors.get(id) ?? []).map((to) => ({ to, routed: false }));
    if (routes) for (const targets of Object.values(routes)) for (const to of targets) edges.push({ to, routed: true });
    return edges.reverse();
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
