/**
 * Engine audit: graph definitions that built although they were wrong.
 * Each case failed before its fix.
 */
import { describe, expect, it } from "vitest";
import { GraphDefinitionError, MemoryStore, NodeFailedError, graph, route, runAsync } from "../src/index.js";
import { rejection } from "./support/async.js";

/** The builder with node ids known only at run time, and options of any shape (plain JavaScript callers). */
interface LooseBuilder {
  node(id: string, fn: (ctx: { item?: unknown }) => unknown, options?: unknown): LooseBuilder;
  map(id: string, source: string, fn: (ctx: { item?: unknown }) => unknown, options?: unknown): LooseBuilder;
  build(): unknown;
}
const loose = (name: string): LooseBuilder => graph(name) as unknown as LooseBuilder;

function problemsOf(build: () => unknown): string[] {
  try {
    build();
  } catch (error) {
    if (error instanceof GraphDefinitionError) return [...error.problems];
    throw error;
  }
  throw new Error("build() did not throw");
}

describe("a node id that is also a map element's activation id", () => {
  it("build() refuses it (the element never ran and the map output took the other node's output)", () => {
    const problems = problemsOf(() =>
      loose("collide")
        .node("list", () => ["a", "b"])
        .node("m[1]", () => "from the node")
        .map("m", "list", ({ item }) => `${String(item)}!`, { after: ["m[1]"] })
        .build(),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('node id "m[1]"');
    expect(problems[0]).toContain('element 1 of map node "m"');
  });

  it("ids that only look like one (no such map node, a leading zero, no index) still build and run", async () => {
    const g = loose("look-alike")
      .node("list", () => ["a"])
      .node("m[01]", () => 1)
      .node("x[0]", () => 2)
      .node("m[]", () => 3)
      .map("m", "list", ({ item }) => `${String(item)}!`)
      .build();
    const out = await runAsync(g as Parameters<typeof runAsync>[0], undefined, { store: new MemoryStore() });
    expect(out).toMatchObject({ "m[01]": 1, "x[0]": 2, "m[]": 3, m: ["a!"] });
  });
});

describe("after that is not an array", () => {
  it("a string is refused as such, not read as a list of its characters", () => {
    // Nodes "a" and "b" exist: "ab" spread into ["a", "b"] built without a word.
    const problems = problemsOf(() =>
      loose("after-string")
        .node("a", () => 1)
        .node("b", () => 2)
        .node("c", () => 3, { after: "ab" })
        .build(),
    );
    expect(problems).toEqual(['node "c": after must be an array of node ids']);
  });

  it("the same for a map node", () => {
    const problems = problemsOf(() =>
      loose("map-after-string")
        .node("l", () => [1])
        .node("x", () => 2)
        .map("m", "l", () => 1, { after: "x" })
        .build(),
    );
    expect(problems).toEqual(['node "m": after must be an array of node ids']);
  });
});

describe("a map node that a route chooses", () => {
  it("its elements see the route's trigger, as any routed node does", async () => {
    const g = loose("route-into-map")
      .node("list", () => [1, 2])
      .node("pick", () => route("go", "why"), { after: ["list"], routes: { go: "m", stop: [] } })
      .map("m", "list", (ctx) => {
        const { trigger } = ctx as { trigger?: { from: string; route: string; value: unknown } };
        return `${String(ctx.item)}:${trigger?.from}/${trigger?.route}/${String(trigger?.value)}`;
      })
      .build();
    const out = await runAsync(g as Parameters<typeof runAsync>[0], undefined, { store: new MemoryStore() });
    expect((out as { m: unknown }).m).toEqual(["1:pick/go/why", "2:pick/go/why"]);
  });
});

describe("a map over a sparse array", () => {
  it("runs an element for each index, a hole too (its item undefined), and its output has no holes", async () => {
    const seen: unknown[] = [];
    const g = loose("sparse-map")
      // eslint-disable-next-line no-sparse-arrays -- the hole is the case
      .node("list", () => [1, , 3])
      .map("m", "list", ({ item }) => {
        seen.push(item);
        return `${String(item)}!`;
      })
      .build();
    const out = (await runAsync(g as Parameters<typeof runAsync>[0], undefined, { store: new MemoryStore() })) as { m: unknown[] };
    expect(out.m).toHaveLength(3);
    expect(1 in out.m).toBe(true);
    expect(out.m).toEqual(["1!", "undefined!", "3!"]);
    expect(seen).toEqual([1, undefined, 3]);
  });
});

describe("a built graph's node options", () => {
  it("are a frozen copy: changing the options object after build() changes neither the graph nor its runs", async () => {
    const retry = { maxAttempts: 1, backoff: { initialMs: 0, jitter: false } };
    let calls = 0;
    const g = graph("options-copied")
      .node(
        "a",
        () => {
          calls += 1;
          throw new Error("fails");
        },
        { retry },
      )
      .build();
    const fingerprint = g.fingerprint;
    retry.maxAttempts = 3;
    retry.backoff.initialMs = -1;
    const node = g.node("a")!;
    expect(node.retry).toEqual({ maxAttempts: 1, backoff: { initialMs: 0, jitter: false } });
    expect(Object.isFrozen(node.retry)).toBe(true);
    expect(Object.isFrozen(node.retry!.backoff)).toBe(true);
    expect(g.fingerprint).toBe(fingerprint);
    const error = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expect((error as NodeFailedError).attempts).toBe(1);
    expect(calls).toBe(1);
  });
});
