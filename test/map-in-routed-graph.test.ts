/**
 * A map node in a graph that has routes: its elements' results reach the
 * map node through the same frontier interface as in a plain graph. Before
 * the engine split, the routing branch never told the map node that an
 * element succeeded, and the run hung (this test then fails by timeout).
 */
import { describe, expect, it } from "vitest";
import { graph, MemoryStore, route, run } from "../src/index.js";

describe("map node in a routed graph", () => {
  it("finishes with its elements' outputs in order", async () => {
    const g = graph("map-routed")
      .node("pick", () => route("go", "x"), { routes: { go: "list" } })
      .node("list", () => [1, 2, 3])
      .map("sq", "list", ({ item }) => item * item)
      .build();
    const handle = run(g, undefined, { store: new MemoryStore() });
    await expect(handle.result()).resolves.toEqual({ pick: "x", list: [1, 2, 3], sq: [1, 4, 9] });
  }, 10_000);
});
