/**
 * Routing: a node that declares `routes` (route name → successor ids)
 * returns {@link route}`(name, value)` to choose which of those successors
 * run. The value becomes the node's output; the unchosen successors, and
 * the nodes only they lead to, are skipped. Routes may lead back to an
 * earlier node (a loop); each visit is a new activation, bounded by
 * `maxVisits`. The scheduler's side is in `engine/routing-ready-set.ts`.
 *
 * @module
 */

/**
 * What a routing node returns: the chosen route's name and the node's output.
 *
 * @typeParam N - the route name
 * @typeParam T - the output
 */
export class Route<N extends string = string, T = unknown> {
  /** The chosen route. */
  readonly name: N;
  /** The node's output. */
  readonly value: T;

  constructor(name: N, value: T) {
    this.name = name;
    this.value = value;
    Object.freeze(this);
  }
}

/**
 * Chooses a route of a node that declares `routes`: the route's targets
 * run next (and receive `value` as `ctx.trigger.value`); the node's other
 * route targets are skipped. `value` is the node's output.
 *
 * @example
 * ```ts
 * graph("review")
 *   .node("draft", ({ trigger }) => write(trigger?.value))
 *   .node("check", ({ deps }) => (ok(deps.draft) ? route("accept", deps.draft) : route("revise", deps.draft)), {
 *     after: ["draft"],
 *     routes: { accept: "publish", revise: "draft" },
 *   })
 *   .node("publish", ({ trigger }) => save(trigger?.value))
 *   .build();
 * ```
 */
export function route<N extends string, T = undefined>(name: N, value?: T): Route<N, T> {
  return new Route(name, value as T);
}

/** True when `value` was made by {@link route}. */
export function isRoute(value: unknown): value is Route {
  return value instanceof Route;
}

/** A node's output type: the value inside a {@link Route}, else the type itself. */
export type Unrouted<T> = T extends Route<string, infer V> ? V : T;

/** What started a visit of a node: the route that chose it. */
export interface RouteTrigger {
  /** The id of the node that chose the route. */
  readonly from: string;
  /** The route's name. */
  readonly route: string;
  /** The value passed to `route(name, value)`. */
  readonly value: unknown;
}

/** Routes as declared on a node: route name → a target id or ids. */
export type RoutesOption = Readonly<Record<string, string | readonly string[]>>;

/** Routes as a graph keeps them: route name → target ids. */
export type RouteTable = Readonly<Record<string, readonly string[]>>;

/** Normalizes a node's `routes` option (targets as arrays, frozen). Assumes a validated option. */
export function normalizeRoutes(routes: RoutesOption): RouteTable {
  const table: Record<string, readonly string[]> = {};
  for (const [name, targets] of Object.entries(routes)) {
    table[name] = Object.freeze(typeof targets === "string" ? [targets] : [...targets]);
  }
  return Object.freeze(table);
}
