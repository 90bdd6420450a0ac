/**
 * The random run graphs of the engine and events property tests
 * (`engine-audit-property`, `events-audit-property`): one generator, so
 * both hold the engine to its promises over the same kind of graph.
 *
 * A shape has nodes `n0` to `n<size-1>` (2 to 7). `n0` returns a list of
 * `items` strings; each later node runs after up to two earlier ones; at
 * most one node is a map over `n0`'s list (with or without its own
 * `maxConcurrency`). Beside the graph, a shape says how often each
 * activation fails before it succeeds (`fails`), the run's
 * `maxConcurrency`, and in which order the test finishes the bodies that
 * wait (`picks`). A test draws these fields together with its own in one
 * `fc.record` (spreading {@link graphShapeFields}), turns the draw into a
 * shape with {@link graphShapeOf}, and builds its graph with
 * {@link shapeBuilder}.
 *
 * @module
 */
import fc from "fast-check";
import { graph, type TaskGraph } from "../../src/index.js";

/** The builder with node ids known only at run time; `C` is the context the test's bodies read. */
export interface LooseBuilder<C> {
  node(id: string, fn: (ctx: C) => unknown, options: { after?: readonly string[]; routes?: Record<string, string[]> }): LooseBuilder<C>;
  map(id: string, source: string, fn: (ctx: C) => unknown, options: { after?: readonly string[]; maxConcurrency?: number }): LooseBuilder<C>;
  build(): TaskGraph<undefined, Record<string, unknown>>;
}

/** A random graph, how its bodies fail, and the order they finish in. */
export interface GraphShape {
  /** Per node (after the list node "n0"): its `after` list, as indices of earlier nodes. */
  readonly after: readonly (readonly number[])[];
  /** The index of the map node (over "n0"), or -1. */
  readonly mapAt: number;
  /** The map node's own `maxConcurrency`, if it has one. */
  readonly mapLimit: number | undefined;
  /** How many items "n0" returns (the map node's elements). */
  readonly items: number;
  /** Failed attempts before the success, by activation (node index, then element index past the nodes). */
  readonly fails: readonly number[];
  /** The run's `maxConcurrency`. */
  readonly maxConcurrency: number;
  /** Which waiting body finishes next, each a pick among those waiting. */
  readonly picks: readonly number[];
}

/** What {@link graphShapeFields} draws, before {@link graphShapeOf} makes a shape of it: the shape's fields but `after`, drawn as `size` nodes and their `deps`. */
export type GraphShapeDraw = Omit<GraphShape, "after"> & {
  readonly size: number;
  readonly deps: readonly (readonly number[])[];
};

/**
 * The arbitraries of a shape's fields, to spread into a test's own
 * `fc.record` beside the fields only that test draws.
 *
 * @example
 * ```ts
 * const shapes = fc.record({ ...graphShapeFields, doom: fc.array(fc.boolean(), { minLength: 11, maxLength: 11 }) })
 *   .map((s) => ({ ...graphShapeOf(s, { mapFrom: 1 }), doom: s.doom }));
 * ```
 */
export const graphShapeFields = {
  size: fc.integer({ min: 2, max: 7 }),
  deps: fc.array(fc.array(fc.nat(), { maxLength: 2 }), { minLength: 7, maxLength: 7 }),
  mapAt: fc.integer({ min: -1, max: 6 }),
  mapLimit: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  items: fc.integer({ min: 0, max: 4 }),
  fails: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 11, maxLength: 11 }),
  maxConcurrency: fc.integer({ min: 1, max: 3 }),
  picks: fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
} satisfies { readonly [K in keyof GraphShapeDraw]: fc.Arbitrary<GraphShapeDraw[K]> };

/**
 * The shape of a draw: node `i` runs after the earlier nodes its `deps`
 * name (taken modulo `i`, once each), except `n0` and the nodes `root`
 * says run after nothing; the map node is `mapAt` when it lies between
 * `mapFrom` and the last node, else there is none.
 *
 * @example
 * ```ts
 * graphShapeOf(draw, { mapFrom: 3, root: (i) => routing && i <= 2 });
 * ```
 */
export function graphShapeOf(draw: GraphShapeDraw, options: { readonly mapFrom: number; readonly root?: (i: number) => boolean }): GraphShape {
  const { size, deps, mapAt } = draw;
  return {
    after: Array.from({ length: size }, (_, i) => (i === 0 || options.root?.(i) === true ? [] : [...new Set(deps[i]!.map((d) => d % i))])),
    mapAt: mapAt >= options.mapFrom && mapAt < size ? mapAt : -1,
    mapLimit: draw.mapLimit,
    items: draw.items,
    fails: draw.fails,
    maxConcurrency: draw.maxConcurrency,
    picks: draw.picks,
  };
}

/**
 * The builder of `shape`'s graph, named `name`, not built yet (a test may
 * add nodes of its own): node `n<i>` runs `body(i)` after its `after`
 * nodes, the map node runs it for each of "n0"'s items. With `routes`,
 * "n0" routes instead (by these routes, after nothing).
 *
 * @example
 * ```ts
 * const g = shapeBuilder("audit", shape, (i) => (ctx: Ctx) => `out${i}`).build();
 * ```
 */
export function shapeBuilder<C>(name: string, shape: GraphShape, body: (i: number) => (ctx: C) => unknown, routes?: Record<string, string[]>): LooseBuilder<C> {
  let b = graph(name) as unknown as LooseBuilder<C>;
  shape.after.forEach((after, i) => {
    const deps = after.map((d) => `n${d}`);
    if (i === shape.mapAt) {
      b = b.map(`n${i}`, "n0", body(i), { after: deps, ...(shape.mapLimit !== undefined && { maxConcurrency: shape.mapLimit }) });
    } else if (i === 0 && routes !== undefined) {
      b = b.node("n0", body(0), { routes });
    } else {
      b = b.node(`n${i}`, body(i), { after: deps });
    }
  });
  return b;
}
