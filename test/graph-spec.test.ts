/**
 * Stored graphs: `toSpec` (and `TaskGraph.toSpec()`) write a graph as
 * JSON with functions by name; `fromSpec(spec, registry)` reads it back.
 * Checked here: the round trip keeps the fingerprint and the outputs (and
 * a run started by the original resumes under the loaded graph); naming
 * (registry by identity, own names, refusals); every missing registry
 * name is listed; malformed specs are refused with each problem;
 * `retryOn` is stored by name; a spec written to a JSON file and loaded
 * back runs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  GraphDefinitionError,
  InputValidationError,
  InvalidOptionError,
  MemoryStore,
  NodeFailedError,
  NonRetryableError,
  TaskGraph,
  fromSpec,
  graph,
  graphFn,
  graphify,
  runAsync,
  task,
  toSpec,
  type GraphSpec,
  type MapContext,
  type NodeContext,
  type Ref,
} from "../src/index.js";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Calls `fn` and returns what it threw (fails the test if it did not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

/** The problems of the GraphDefinitionError `fn` throws. */
function problemsOf(fn: () => unknown): readonly string[] {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(GraphDefinitionError);
  expect((err as GraphDefinitionError).code).toBe("GRAPH_DEFINITION");
  return (err as GraphDefinitionError).problems;
}

const roundTrip = (spec: GraphSpec): unknown => JSON.parse(JSON.stringify(spec));

// Named functions: toSpec names them by their own names.
function fetchOrders({ inputs }: NodeContext<{ day: string; n: number }>): { id: number; cents: number }[] {
  return Array.from({ length: inputs.n }, (_, i) => ({ id: i, cents: 100 * (i + 1) }));
}
function keepEven({ deps }: NodeContext<unknown, { fetch: { id: number; cents: number }[] }>): { id: number; cents: number }[] {
  return deps.fetch.filter((o) => o.id % 2 === 0);
}
function priceOf({ item }: MapContext<unknown, { id: number; cents: number }>): number {
  return item.cents;
}
function labelOf({ item, index }: MapContext<unknown, { id: number }>): string {
  return `${index}:${item.id}`;
}
function total({ deps }: NodeContext<unknown, { prices: number[] }>): number {
  return deps.prices.reduce((a, b) => a + b, 0);
}
function isTransient(error: unknown): boolean {
  return !(error instanceof TypeError);
}
function summarize(outputs: Record<string, unknown>, inputs: { day: string }): { day: string; total: unknown; labels: unknown } {
  return { day: inputs.day, total: outputs.total, labels: outputs.labels };
}

const ordersGraph = () =>
  graph("orders")
    .input<{ day: string; n: number }>()
    .node("fetch", fetchOrders, {
      retry: { maxAttempts: 4, backoff: { initialMs: 10, factor: 3, maxMs: 1_000, jitter: false }, retryOn: isTransient, timeoutMs: 2_000 },
    })
    .node("even", keepEven, { after: ["fetch"], timeoutMs: 500, retry: {} })
    .map("prices", "even", priceOf, { maxConcurrency: 2 })
    .map("labels", "fetch", labelOf)
    .node("total", total, { after: ["prices"] })
    .output(summarize)
    .build();

describe("round trip", () => {
  it("writes every structural field, with functions by name", () => {
    const g = ordersGraph();
    expect(toSpec(g)).toEqual({
      version: 1,
      name: "orders",
      nodes: [
        {
          id: "fetch",
          after: [],
          fn: "fetchOrders",
          retry: { maxAttempts: 4, backoff: { initialMs: 10, factor: 3, maxMs: 1_000, jitter: false }, retryOn: "isTransient", timeoutMs: 2_000 },
        },
        { id: "even", after: ["fetch"], fn: "keepEven", retry: {}, timeoutMs: 500 },
        { id: "labels", after: ["fetch"], fn: "labelOf", map: { source: "fetch" } },
        { id: "prices", after: ["even"], fn: "priceOf", map: { source: "even", maxConcurrency: 2 } },
        { id: "total", after: ["prices"], fn: "total" },
      ],
      output: "summarize",
      fingerprint: g.fingerprint,
    });
    // The method and the function are the same thing.
    expect(g.toSpec()).toEqual(toSpec(g));
  });

  it("keeps the fingerprint and the outputs through JSON", async () => {
    const g = ordersGraph();
    const registry = { fetchOrders, keepEven, priceOf, labelOf, total, isTransient, summarize };
    const loaded = fromSpec<{ day: string; n: number }, ReturnType<typeof summarize>>(roundTrip(g.toSpec()), registry);
    expect(loaded).toBeInstanceOf(TaskGraph);
    expect(loaded.fingerprint).toBe(g.fingerprint);
    expect(loaded.order).toEqual(g.order);
    expect(loaded.node("prices")?.map).toEqual({ source: "even", maxConcurrency: 2 });
    expect(loaded.node("fetch")?.retry?.retryOn).toBe(isTransient);

    const inputs = { day: "2026-11-23", n: 5 };
    const expected = await runAsync(g, inputs, { store: new MemoryStore() });
    expect(expected).toEqual({ day: "2026-11-23", total: 100 + 300 + 500, labels: ["0:0", "1:1", "2:2", "3:3", "4:4"] });
    await expect(runAsync(loaded, inputs, { store: new MemoryStore() })).resolves.toEqual(expected);
  });

  it("resumes a run of the original graph under the loaded one: only the failed node and its dependents run", async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    let fail = true;
    function source(): number {
      calls.push("source");
      return 20;
    }
    function flaky({ deps }: NodeContext<unknown, { source: number }>): number {
      calls.push("flaky");
      if (fail) throw new NonRetryableError("flaky fails the first time");
      return deps.source + 1;
    }
    function after({ deps }: NodeContext<unknown, { flaky: number }>): number {
      calls.push("after");
      return deps.flaky * 2;
    }
    const original = graph("resumable")
      .node("source", source)
      .node("flaky", flaky, { after: ["source"] })
      .node("after", after, { after: ["flaky"] })
      .build();
    await expect(runAsync(original, undefined, { store, runId: "spec-resume" })).rejects.toBeInstanceOf(NodeFailedError);
    expect(calls).toEqual(["source", "flaky"]);

    fail = false;
    const loaded = fromSpec(roundTrip(original.toSpec()), { source, flaky, after });
    await expect(runAsync(loaded, undefined, { store, runId: "spec-resume" })).resolves.toEqual({ source: 20, flaky: 21, after: 42 });
    expect(calls).toEqual(["source", "flaky", "flaky", "after"]);
  });

  it("stores a spec as a JSON file and loads it back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "taskloom-spec-"));
    dirs.push(dir);
    const file = join(dir, "orders.json");
    const g = ordersGraph();
    writeFileSync(file, JSON.stringify(g.toSpec(), null, 2));
    const text = readFileSync(file, "utf8");
    expect(text).toContain('"fn": "fetchOrders"');
    const loaded = fromSpec<{ day: string; n: number }, unknown>(JSON.parse(text), { fetchOrders, keepEven, priceOf, labelOf, total, isTransient, summarize });
    expect(loaded.fingerprint).toBe(g.fingerprint);
    await expect(runAsync(loaded, { day: "d", n: 2 }, { store: new MemoryStore() })).resolves.toEqual({
      day: "d",
      total: 100,
      labels: ["0:0", "1:1"],
    });
  });

  it("types the loaded graph with the type arguments and checks inputs with options.input", async () => {
    function double({ inputs }: NodeContext<{ n: number }>): number {
      return inputs.n * 2;
    }
    const spec = graph("typed").input<{ n: number }>().node("double", double).build().toSpec();
    const loaded = fromSpec<{ n: number }, { double: number }>(roundTrip(spec), { double }, { input: z.object({ n: z.number() }) });
    expectTypeOf(loaded).toEqualTypeOf<TaskGraph<{ n: number }, { double: number }>>();
    await expect(runAsync(loaded, { n: "x" } as never, { store: new MemoryStore() })).rejects.toBeInstanceOf(InputValidationError);
    await expect(runAsync(loaded, { n: 4 }, { store: new MemoryStore() })).resolves.toEqual({ double: 8 });
    expect(() => fromSpec(spec, { double }, { input: 3 as never })).toThrow(InvalidOptionError);
  });
});

describe("naming functions in toSpec", () => {
  it("names functions by identity in the registry, which wins over their own names", () => {
    // Array elements get no inferred name: these four are anonymous.
    const [first, second, always, out] = [
      (): number => 1,
      ({ deps }: NodeContext<undefined, { a: number }>): number => deps.a + 1,
      (): boolean => true,
      ({ b }: { b: number }): number => b,
    ] as const;
    expect([first.name, second.name, always.name, out.name]).toEqual(["", "", "", ""]);
    function named(): number {
      return 3;
    }
    const g = graph("inline")
      .node("a", first)
      .node("b", second, { after: ["a"], retry: { retryOn: always } })
      .node("c", named)
      .output(out)
      .build();
    const spec = g.toSpec({ registry: { one: first, two: second, always, result: out, alsoResult: out, three: named } });
    expect(Object.fromEntries(spec.nodes.map((n) => [n.id, n.fn]))).toEqual({ a: "one", b: "two", c: "three" });
    expect(spec.nodes.find((n) => n.id === "b")?.retry?.retryOn).toBe("always");
    expect(spec.output).toBe("result"); // the first key wins when one function is registered twice
  });

  it("refuses anonymous functions, listing each", () => {
    // An arrow written directly as `retryOn: () => …` takes the name "retryOn"; one from an array has none.
    const anonymous = [(): boolean => false][0] as () => boolean;
    const g = graph("anon")
      .node("a", () => 1)
      .node("b", () => 2, { retry: { retryOn: anonymous } })
      .output(({ a }) => a)
      .build();
    expect(problemsOf(() => g.toSpec())).toEqual([
      'node "a" is an anonymous function: name it (a function declaration or a const), or pass it in { registry }',
      'node "b" retry.retryOn is an anonymous function: name it (a function declaration or a const), or pass it in { registry }',
      'node "b" is an anonymous function: name it (a function declaration or a const), or pass it in { registry }',
      "the output function is an anonymous function: name it (a function declaration or a const), or pass it in { registry }",
    ]);
  });

  it("refuses two different functions with one name, and an own name the registry binds to another function", () => {
    const makeStep = (k: number) =>
      function step(): number {
        return k;
      };
    const g = graph("clash").node("a", makeStep(1)).node("b", makeStep(2)).build();
    expect(problemsOf(() => toSpec(g))).toEqual([
      'node "a" and node "b" are different functions both named "step": pass { registry } to give them distinct names',
    ]);
    expect(toSpec(g, { registry: { stepA: g.node("a")?.fn as never, stepB: g.node("b")?.fn as never } }).nodes.map((n) => n.fn)).toEqual(["stepA", "stepB"]);
    function other(): number {
      return 0;
    }
    expect(problemsOf(() => toSpec(g, { registry: { step: other } }))).toEqual([
      'node "a" is a function named "step", but the registry\'s "step" is another function: add this one to the registry under its own name',
      'node "b" is a function named "step", but the registry\'s "step" is another function: add this one to the registry under its own name',
    ]);
  });

  it("refuses graphs with no static structure (graphFn) or whose wiring is code (graphify)", () => {
    const dynamic = graphFn("dyn", async (_inputs: undefined, { step }) => step("x", () => 1));
    expect(problemsOf(() => toSpec(dynamic.graph))[0]).toContain("it is a graphFn graph");
    const traced = graphify("traced", (inputs: Ref<{ n: number }>) => {
      const a = task("a", function double(n: number) {
        return n * 2;
      })(inputs.n);
      return {
        b: task("b", function inc(n: number) {
          return n + 1;
        })(a),
      };
    });
    expect(problemsOf(() => traced.toSpec())).toEqual([
      'it was made by graphify (nodes "a", "b"): how its tasks\' arguments are wired is code, which a spec cannot hold; ' +
        "keep graphify graphs in code, or build the graph with graph() and named functions to store it",
    ]);
  });

  it("refuses node fields it cannot store, so a new kind of node is never dropped silently", () => {
    function a(): number {
      return 1;
    }
    // (This used `routes` as the unknown field until routing existed; specs hold routes now.)
    const g = new TaskGraph({ name: "future", nodes: [{ id: "a", after: [], fn: a, concurrencyKey: "gpu" } as never] });
    expect(problemsOf(() => g.toSpec())).toEqual(['node "a" has "concurrencyKey", which stored specs (version 1) cannot hold']);
  });

  it("refuses options that are not objects", () => {
    const g = ordersGraph();
    expect(() => g.toSpec(3 as never)).toThrow(InvalidOptionError);
    expect(() => g.toSpec({ registry: 3 as never })).toThrow(InvalidOptionError);
    expect(() => toSpec({} as never)).toThrow(InvalidOptionError);
  });
});

describe("fromSpec refuses", () => {
  const valid = (): Record<string, unknown> => roundTrip(ordersGraph().toSpec()) as Record<string, unknown>;
  const fullRegistry = { fetchOrders, keepEven, priceOf, labelOf, total, isTransient, summarize };

  it("a spec naming functions the registry lacks, listing every missing name", () => {
    const problems = problemsOf(() => fromSpec(valid(), { fetchOrders, priceOf, toString: 3 as never }));
    expect(problems).toEqual([
      'the registry has no function "isTransient" (used by node "fetch" retry.retryOn)',
      'the registry has no function "keepEven" (used by node "even")',
      'the registry has no function "labelOf" (used by node "labels")',
      'the registry has no function "total" (used by node "total")',
      'the registry has no function "summarize" (used by the output)',
    ]);
  });

  it("names inherited from Object.prototype, and registry entries that are not functions", () => {
    const spec = {
      version: 1,
      name: "proto",
      nodes: [
        { id: "a", after: [], fn: "toString" },
        { id: "b", after: [], fn: "data" },
      ],
    };
    expect(problemsOf(() => fromSpec(spec, { data: "not code" as never }))).toEqual([
      'the registry has no function "toString" (used by node "a")',
      'the registry has no function "data" (used by node "b"): it holds a string',
    ]);
  });

  it.each<[string, (spec: Record<string, unknown>) => unknown, string[]]>([
    ["a spec that is not an object", () => "orders", ['the spec must be an object as toSpec writes it (got string "orders")']],
    ["an array", () => [], ["the spec must be an object as toSpec writes it (got an array)"]],
    ["another version", (s) => ({ ...s, version: 2 }), ["version must be 1 (got number 2); this taskloom reads version 1 specs"]],
    ["no version", ({ version: _v, ...s }) => s, ["version must be 1 (got nothing); this taskloom reads version 1 specs"]],
    ["nodes that are not an array", (s) => ({ ...s, nodes: { a: 1 } }), ["nodes must be an array (got an object)"]],
    ["an empty name", (s) => ({ ...s, name: "" }), ['name must be a non-empty string (got string "")']],
    ["an output that is not a name", (s) => ({ ...s, output: 3 }), ["output must be a function name (got number 3)"]],
    ["an unknown top-level field", (s) => ({ ...s, extra: true }), ['unknown field "extra"; known fields: version, name, nodes, output, fingerprint']],
    [
      "nodes with bad field types",
      (s) => ({
        ...s,
        nodes: [
          7,
          { id: 1, after: "fetch", fn: null },
          { id: "x", after: ["a", 2], fn: "f", timeoutMs: "10", retries: 3 },
          { id: "y", after: [], fn: "f", retry: { maxAttempts: "3", backoff: { jitter: "yes" }, retryOn: isTransient } },
          { id: "z", after: [], fn: "f", retry: [], map: { maxConcurrency: 2 } },
        ],
      }),
      [
        "nodes[0] must be an object (got number 7)",
        "nodes[1]: id must be a string (got number 1)",
        'nodes[1]: after must be an array of strings (got string "fetch")',
        "nodes[1]: fn must be a string (got null)",
        'nodes[2] ("x"): unknown field "retries" (did you mean "retry"?); known fields: id, after, fn, retry, timeoutMs, map, routes, maxVisits',
        'nodes[2] ("x"): after must be an array of strings (got an array)',
        'nodes[2] ("x"): timeoutMs must be a number (got string "10")',
        'nodes[3] ("y") retry: maxAttempts must be a number (got string "3")',
        'nodes[3] ("y") retry: retryOn must be a string (got function undefined)',
        'nodes[3] ("y") retry.backoff: jitter must be a boolean (got string "yes")',
        'nodes[4] ("z"): retry must be an object (got an array)',
        'nodes[4] ("z") map: source must be a string (got nothing)',
      ],
    ],
  ])("a malformed spec: %s, listing every problem", (_name, change, expected) => {
    const err = thrown(() => fromSpec(change(valid()), fullRegistry));
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).code).toBe("GRAPH_DEFINITION");
    expect((err as GraphDefinitionError).problems).toEqual(expected);
  });

  it("a spec whose graph is not valid (unknown dependency, cycle, bad option values)", () => {
    function f(): number {
      return 1;
    }
    const problems = problemsOf(() =>
      fromSpec(
        {
          version: 1,
          name: "broken",
          nodes: [
            { id: "a", after: ["b"], fn: "f" },
            { id: "b", after: ["a"], fn: "f" },
            { id: "c", after: ["nope"], fn: "f", retry: { maxAttempts: 0 } },
          ],
        },
        { f },
      ),
    );
    expect(problems).toContain('node "c" runs after "nope", which is not a node of this graph');
    expect(problems.some((p) => p.includes("maxAttempts"))).toBe(true);
  });

  it("a spec changed after toSpec wrote it, unless its fingerprint is removed", () => {
    const spec = valid();
    const nodes = spec.nodes as Record<string, unknown>[];
    (nodes[1] as Record<string, unknown>).timeoutMs = 900;
    const problems = problemsOf(() => fromSpec(spec, fullRegistry));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`the spec records fingerprint ${String(spec.fingerprint)}, but the graph it describes has fingerprint`);
    delete spec.fingerprint;
    const loaded = fromSpec(spec, fullRegistry);
    expect(loaded.node("even")?.timeoutMs).toBe(900);
    expect(loaded.fingerprint).not.toBe(ordersGraph().fingerprint);
  });

  it("a registry that is not an object", () => {
    expect(() => fromSpec(valid(), null as never)).toThrow(InvalidOptionError);
  });
});

describe("retryOn in specs", () => {
  it("stores retryOn by name and restores the predicate, which then decides retries", async () => {
    let attempts = 0;
    function breaks(): number {
      attempts += 1;
      throw new TypeError("a bug, not a hiccup");
    }
    const g = graph("retry-on")
      .node("breaks", breaks, { retry: { maxAttempts: 5, backoff: { initialMs: 0, jitter: false }, retryOn: isTransient } })
      .build();
    const spec = g.toSpec();
    expect(spec.nodes[0]?.retry).toEqual({ maxAttempts: 5, backoff: { initialMs: 0, jitter: false }, retryOn: "isTransient" });
    const loaded = fromSpec(roundTrip(spec), { breaks, isTransient });
    expect(loaded.fingerprint).toBe(g.fingerprint);
    const err = await runAsync(loaded, undefined, { store: new MemoryStore() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).attempts).toBe(1); // isTransient said no to the TypeError
    expect(attempts).toBe(1);

    // With another predicate under the same name, the loaded graph retries.
    attempts = 0;
    const lenient = fromSpec(roundTrip(spec), { breaks, isTransient: () => true });
    await expect(runAsync(lenient, undefined, { store: new MemoryStore() })).rejects.toBeInstanceOf(NodeFailedError);
    expect(attempts).toBe(5);
  });
});
