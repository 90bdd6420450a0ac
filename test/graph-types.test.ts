/**
 * The builder's typing claims (DESIGN.md section 1). `npm test` runs
 * `tsc --noEmit` over test/, so every `@ts-expect-error` line below must
 * really be an error (an unused one fails the typecheck), and the
 * `expectTypeOf` assertions are checked by the compiler.
 */
import { describe, expectTypeOf, it } from "vitest";
import { MemoryStore, graph, graphFn, run, runAsync, type RunHandle, type TaskGraph } from "../src/index.js";

describe("graph builder types", () => {
  it("types inputs, deps from after, and outputs", async () => {
    const g = graph("typed")
      .input<{ url: string; limit: number }>()
      .node("fetch", ({ inputs, deps }) => {
        expectTypeOf(inputs).toEqualTypeOf<{ url: string; limit: number }>();
        // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- asserts that deps of a node without after is the builder's empty record, {}
        expectTypeOf(deps).toEqualTypeOf<{}>();
        return { body: inputs.url, size: inputs.limit };
      })
      .node("count", () => 3)
      .node(
        "parse",
        async ({ deps }) => {
          expectTypeOf(deps).toEqualTypeOf<{ readonly fetch: { body: string; size: number } }>();
          expectTypeOf(deps.fetch.body).toBeString();
          return deps.fetch.body.split(",");
        },
        { after: ["fetch"] },
      )
      .node(
        "join",
        ({ deps }) => {
          // Promise outputs are awaited in the dep's type.
          expectTypeOf(deps.parse).toEqualTypeOf<string[]>();
          expectTypeOf(deps.count).toEqualTypeOf<number>();
          // @ts-expect-error fetch is a node, but not in this node's after list
          void deps.fetch;
          return deps.parse.length + deps.count;
        },
        { after: ["parse", "count"] },
      )
      .output((outputs, inputs) => {
        expectTypeOf(outputs.join).toEqualTypeOf<number>();
        expectTypeOf(outputs.parse).toEqualTypeOf<string[]>();
        expectTypeOf(inputs.url).toBeString();
        return { rows: outputs.join, url: inputs.url };
      })
      .build();

    expectTypeOf(g).toEqualTypeOf<TaskGraph<{ url: string; limit: number }, { rows: number; url: string }>>();

    const out = await runAsync(g, { url: "a,b", limit: 1 }, { store: new MemoryStore() });
    expectTypeOf(out).toEqualTypeOf<{ rows: number; url: string }>();

    const handle = run(g, { url: "x", limit: 2 }, { store: new MemoryStore() });
    expectTypeOf(handle).toEqualTypeOf<RunHandle<{ rows: number; url: string }>>();
    expectTypeOf(handle.result()).resolves.toEqualTypeOf<{ rows: number; url: string }>();
    await handle.result();
  });

  it("rejects a misspelled id in after", () => {
    const base = graph("typo").node("fetch", () => "text");
    expectTypeOf<typeof base.node>().toBeFunction();
    // Never built: only the compile-time check matters here.
    const build = (): unknown =>
      base
        // @ts-expect-error "fetc" is not a node declared so far
        .node("parse", () => 1, { after: ["fetc"] })
        .build();
    void build;
    // A node declared later cannot be named either (it does not exist yet).
    const later = (): unknown =>
      graph("order")
        // @ts-expect-error "b" is declared after "a"
        .node("a", () => 1, { after: ["b"] })
        .node("b", () => 2)
        .build();
    void later;
  });

  it("rejects reading a dep that is not in after", () => {
    const build = (): unknown =>
      graph("deps")
        .node("a", () => 1)
        .node("b", () => "two")
        .node(
          "c",
          ({ deps }) => {
            // @ts-expect-error b is not in after
            return deps.a + deps.b.length; // eslint-disable-line @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-member-access -- a deliberate type error, checked by @ts-expect-error
          },
          { after: ["a"] },
        )
        .build();
    void build;
  });

  it("types inputs and rejects wrong ones", () => {
    const g = graph("inputs")
      .input<{ n: number }>()
      .node("double", ({ inputs }) => inputs.n * 2)
      .output(({ double }) => double)
      .build();
    expectTypeOf(g).toEqualTypeOf<TaskGraph<{ n: number }, number>>();
    const wrong = (): unknown =>
      // @ts-expect-error n must be a number
      runAsync(g, { n: "1" }, { store: new MemoryStore() });
    void wrong;
    const noInputs = (): unknown =>
      graph("no-input").node("a", ({ inputs }) => {
        // @ts-expect-error a graph without input() has undefined inputs
        return inputs.n; // eslint-disable-line @typescript-eslint/no-unsafe-return -- a deliberate type error, checked by @ts-expect-error
      });
    void noInputs;
  });

  it("without output(), the result is every node's output by id", async () => {
    const g = graph("all")
      .node("a", () => 1)
      .node("b", async () => "x")
      .build();
    const out = await runAsync(g, undefined, { store: new MemoryStore() });
    expectTypeOf(out.a).toEqualTypeOf<number>();
    expectTypeOf(out.b).toEqualTypeOf<string>();
    // @ts-expect-error there is no node c
    void out.c;
  });

  it("an input exposed directly as an output keeps its type", () => {
    const g = graph("passthrough")
      .input<{ x: Date }>()
      .node("noop", () => null)
      .output((_, inputs) => inputs.x)
      .build();
    expectTypeOf(g).toEqualTypeOf<TaskGraph<{ x: Date }, Date>>();
  });
});

describe("the bare TaskGraph type", () => {
  it("holds a graph of typed inputs and outputs, from the builder and from graphFn (a strict-tsc error before)", () => {
    const built: TaskGraph = graph("typed")
      .input<{ n: number }>()
      .node("double", ({ inputs }) => inputs.n * 2)
      .build();
    const fn: TaskGraph = graphFn("typed-fn", (inputs: { n: number }) => Promise.resolve(inputs.n + 1)).graph;
    const all: TaskGraph[] = [built, fn];
    expectTypeOf(all).toEqualTypeOf<TaskGraph<unknown, unknown>[]>();
    expectTypeOf(built.name).toBeString();
  });
});
