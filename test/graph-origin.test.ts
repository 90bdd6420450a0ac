/**
 * A graph records where it came from (`TaskGraph.origin`: the builder,
 * graphify, graphFn or a stored spec), and `toSpec` consults it, instead
 * of a module-global set of traced bodies. A built graph's nodes have
 * their own type (`GraphNode`), whose routes are normalized, so reading
 * them needs no cast. `npm test` type-checks test/, so the
 * `expectTypeOf` lines are checked by the compiler.
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import {
  GraphDefinitionError,
  TaskGraph,
  fromSpec,
  graph,
  graphFn,
  graphify,
  task,
  type GraphNode,
  type GraphOrigin,
  type Ref,
  type RouteTable,
} from "../src/index.js";

function one(): number {
  return 1;
}

describe("TaskGraph.origin", () => {
  it("names the builder, graphify, graphFn or a stored spec", () => {
    const built = graph("b").node("one", one).build();
    const traced = graphify("t", (inputs: Ref<{ n: number }>) => task("double", (n: number) => n * 2)(inputs.n));
    const dynamic = graphFn("d", async (_inputs: undefined, { step }) => step("x", () => 1));
    const loaded = fromSpec(built.toSpec(), { one });
    expect([built.origin, traced.origin, dynamic.graph.origin, loaded.origin]).toEqual(["builder", "graphify", "graphFn", "spec"]);
    expectTypeOf(built.origin).toEqualTypeOf<GraphOrigin>();
  });

  it("defaults to builder for parts given directly, graphFn for a dynamic body", () => {
    const nodes = [{ id: "one", after: [], fn: one }];
    expect(new TaskGraph({ name: "parts", nodes }).origin).toBe("builder");
    expect(new TaskGraph({ name: "dyn", nodes: [], dynamic: async () => 1 }).origin).toBe("graphFn");
  });

  it("refuses an origin that does not match the parts, so toSpec cannot be misled", () => {
    const nodes = [{ id: "one", after: [], fn: one }];
    expect(() => new TaskGraph({ name: "x", nodes, origin: "graphFn" })).toThrow(GraphDefinitionError);
    expect(() => new TaskGraph({ name: "x", nodes: [], dynamic: async () => 1, origin: "builder" })).toThrow(GraphDefinitionError);
    expect(() => new TaskGraph({ name: "x", nodes, origin: "elsewhere" as never })).toThrow(/origin "elsewhere" is not valid/);
  });

  it("is what toSpec consults: a graphify graph's nodes are refused even when named and registered", () => {
    function double(n: number): number {
      return n * 2;
    }
    const traced = graphify("t", (inputs: Ref<{ n: number }>) => task("double", double)(inputs.n));
    const body = traced.node("double")?.fn;
    expect(() => traced.toSpec({ registry: { double: body as never } })).toThrow(/it was made by graphify \(nodes "double"\)/);
  });
});

describe("GraphNode", () => {
  it("holds the routes normalized: every target list an array, typed so", () => {
    const g = graph("r")
      .node("a", () => 1, { routes: { go: "b", both: ["b", "c"] } })
      .node("b", () => 2)
      .node("c", () => 3)
      .build();
    const node = g.node("a");
    expectTypeOf(node).toEqualTypeOf<GraphNode | undefined>();
    expectTypeOf(node?.routes).toEqualTypeOf<RouteTable | undefined>();
    expect(node?.routes).toEqual({ go: ["b"], both: ["b", "c"] });
    expect(g.routesOf("a")).toBe(node?.routes);
    expect(Object.isFrozen(node)).toBe(true);
  });
});
