/**
 * `graphify` and `task`: a function over symbolic references, traced once
 * into an ordinary TaskGraph. Checked here:
 * - the graph equals the equivalent builder graph (outputs, per-node
 *   events, dependency order, fingerprint);
 * - how arguments reach the task (values, constants, nested paths, plain
 *   objects and arrays of refs, the node context last) and node options;
 * - every use of a reference's value while tracing is refused with
 *   GraphDefinitionError, and so are misuses of `task`;
 * - resume runs only the failed task and its dependents;
 * - the typing claims (`npm test` runs tsc over test/, so every
 *   `@ts-expect-error` below must be a real error).
 */
import { describe, expect, expectTypeOf, it } from "vitest";
import { z } from "zod";
import {
  GraphDefinitionError,
  InputValidationError,
  InvalidOptionError,
  MemoryStore,
  NodeFailedError,
  NonRetryableError,
  TaskGraph,
  getRun,
  graph,
  graphify,
  run,
  runAsync,
  task,
  type NodeContext,
  type Ref,
  type RunHandle,
} from "../src/index.js";

const HINT = "graphify traces the function once with symbolic references; a reference has no value yet: move the logic into a task, or route";

interface Page {
  readonly body: string;
  readonly headers: { readonly type: string; readonly size: number };
}

function fetchPage(url: string): Promise<Page> {
  return Promise.resolve({ body: `a,b,c@${url}`, headers: { type: "text/csv", size: url.length } });
}
function parseRows(body: string): string[] {
  return (body.split("@")[0] ?? "").split(",");
}
function describeMeta(type: string, size: number): string {
  return `${type}:${size}`;
}
function storeRows(rows: string[], meta: string): { stored: number; meta: string } {
  return { stored: rows.length, meta };
}

/** The events of one run, by node id, in the order each node saw them. */
function recordEvents(handle: RunHandle<unknown>): { perNode: Map<string, string[]>; sequence: string[] } {
  const perNode = new Map<string, string[]>();
  const sequence: string[] = [];
  const push = (id: string, name: string): void => {
    perNode.set(id, [...(perNode.get(id) ?? []), name]);
    sequence.push(`${name} ${id}`);
  };
  handle.events.on("node:start", (e) => push(e.nodeId, "node:start"));
  handle.events.on("node:success", (e) => push(e.nodeId, "node:success"));
  handle.events.on("node:retry", (e) => push(e.nodeId, "node:retry"));
  handle.events.on("node:error", (e) => push(e.nodeId, "node:error"));
  return { perNode, sequence };
}

/** Throws unless every node started after all of its dependencies succeeded. */
function expectDependencyOrder(
  g: { readonly order: readonly string[]; node(id: string): { readonly after: readonly string[] } | undefined },
  sequence: readonly string[],
): void {
  for (const id of g.order) {
    const start = sequence.indexOf(`node:start ${id}`);
    expect(start, `${id} started`).toBeGreaterThanOrEqual(0);
    for (const dep of g.node(id)?.after ?? []) {
      const succeeded = sequence.indexOf(`node:success ${dep}`);
      expect(succeeded, `${dep} succeeded`).toBeGreaterThanOrEqual(0);
      expect(succeeded, `${dep} before ${id}`).toBeLessThan(start);
    }
  }
}

/** Calls `fn` and returns what it threw (fails the test if it did not throw). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

/** Asserts `err` is the tracing refusal for reference `ref`, and returns its single problem. */
function expectRefusal(err: unknown, graphName: string, ref: string): string {
  expect(err).toBeInstanceOf(GraphDefinitionError);
  const e = err as GraphDefinitionError;
  expect(e.code).toBe("GRAPH_DEFINITION");
  expect(e.message).toContain(`graph "${graphName}" is not valid`);
  expect(e.message).toContain(HINT);
  expect(e.problems).toHaveLength(1);
  expect(e.problems[0]).toContain(`while tracing, reference ${ref} was `);
  return e.problems[0] as string;
}

const etlGraphify = (): TaskGraph<{ url: string }, { rows: string[]; stored: number; meta: string; url: string }> =>
  graphify("etl", (inputs: Ref<{ url: string }>) => {
    const page = task("fetch", fetchPage)(inputs.url);
    const rows = task("parse", parseRows)(page.body);
    const meta = task("meta", describeMeta)(page.headers.type, page.headers.size);
    const stored = task("store", storeRows, { retry: { maxAttempts: 2, backoff: { initialMs: 0, jitter: false } } })(rows, meta);
    return { rows, stored: stored.stored, meta, url: inputs.url };
  });

const etlBuilder = () =>
  graph("etl")
    .input<{ url: string }>()
    .node("fetch", ({ inputs }) => fetchPage(inputs.url))
    .node("parse", ({ deps }) => parseRows(deps.fetch.body), { after: ["fetch"] })
    .node("meta", ({ deps }) => describeMeta(deps.fetch.headers.type, deps.fetch.headers.size), { after: ["fetch"] })
    .node("store", ({ deps }) => storeRows(deps.parse, deps.meta), {
      after: ["parse", "meta"],
      retry: { maxAttempts: 2, backoff: { initialMs: 0, jitter: false } },
    })
    .output(({ parse, store, meta }, inputs) => ({ rows: parse, stored: store.stored, meta, url: inputs.url }))
    .build();

describe("graphify builds the same graph as the builder", () => {
  it("infers nodes and after lists from the references passed to tasks", () => {
    const g = etlGraphify();
    expect(g).toBeInstanceOf(TaskGraph);
    expect(g.name).toBe("etl");
    expect(g.order).toEqual(["fetch", "parse", "meta", "store"]);
    expect(g.node("fetch")?.after).toEqual([]);
    expect(g.node("parse")?.after).toEqual(["fetch"]);
    // Two refs into one node give one dependency.
    expect(g.node("meta")?.after).toEqual(["fetch"]);
    expect(g.node("store")?.after).toEqual(["parse", "meta"]);
    expect(g.node("store")?.retry).toEqual({ maxAttempts: 2, backoff: { initialMs: 0, jitter: false } });
    expect(g.successors("fetch")).toEqual(["parse", "meta"]);
  });

  it("has the fingerprint of the equivalent builder graph, so runs of one resume under the other", () => {
    expect(etlGraphify().fingerprint).toBe(etlBuilder().fingerprint);
    const other = graphify("etl", (inputs: Ref<{ url: string }>) => {
      const page = task("fetch", fetchPage)(inputs.url);
      return { rows: task("parse", parseRows)(page.body) };
    });
    expect(other.fingerprint).not.toBe(etlBuilder().fingerprint);
  });

  it("produces the same outputs and the same node events, in dependency order", async () => {
    const results = [];
    for (const g of [etlGraphify(), etlBuilder()]) {
      const handle = run(g, { url: "https://x.test/a" }, { store: new MemoryStore(), maxConcurrency: 4 });
      const events = recordEvents(handle);
      const outputs = await handle.result();
      expectDependencyOrder(g, events.sequence);
      results.push({ outputs, perNode: events.perNode });
    }
    const [fromGraphify, fromBuilder] = results;
    expect(fromGraphify?.outputs).toEqual({
      rows: ["a", "b", "c"],
      stored: 3,
      meta: "text/csv:16",
      url: "https://x.test/a",
    });
    expect(fromGraphify?.outputs).toEqual(fromBuilder?.outputs);
    expect(fromGraphify?.perNode).toEqual(new Map(["fetch", "parse", "meta", "store"].map((id) => [id, ["node:start", "node:success"]])));
    // Per node the sequence is the same; across nodes "parse" and "meta" may interleave either way.
    expect(new Set(fromGraphify?.perNode.keys())).toEqual(new Set(fromBuilder?.perNode.keys()));
    for (const [id, seq] of fromBuilder?.perNode ?? []) expect(fromGraphify?.perNode.get(id)).toEqual(seq);
  });
});

describe("task arguments at run time", () => {
  it("passes resolved values, then the node context as the extra last argument", async () => {
    const seen: unknown[][] = [];
    const g = graphify("ctx", (inputs: Ref<{ n: number }>) => {
      const a = task("a", (n: number, ctx: NodeContext) => {
        seen.push([n, ctx.nodeId, ctx.attempt, ctx.signal instanceof AbortSignal, ctx.deps]);
        return ctx.step("double", () => n * 2);
      })(inputs.n);
      const b = task("b", (x: number, ctx: NodeContext) => {
        seen.push([x, ctx.nodeId, ctx.deps, ctx.inputs]);
        return x + 1;
      })(a);
      return { b };
    });
    await expect(runAsync(g, { n: 5 }, { store: new MemoryStore() })).resolves.toEqual({ b: 11 });
    expect(seen).toEqual([
      [5, "a", 1, true, {}],
      [10, "b", { a: 10 }, { n: 5 }],
    ]);
  });

  it("puts the context in the last declared parameter only when the call leaves it empty", async () => {
    const g = graphify("slots", () => {
      const a = task("a", () => 1)();
      const b = task("b", () => 2)();
      // A rest parameter declares no slot: no stray context among the values.
      const rest = task("rest", (...xs: number[]) => xs)(a, b);
      // A parameter with a default value is not counted by fn.length either.
      const scaled = task("scaled", (x: number, scale: number = 10) => x * scale)(a);
      // An optional parameter passed explicitly keeps its value.
      const optional = task("optional", (x: number, label?: string) => `${x}:${String(label)}`)(b, undefined);
      // Destructured context as the only parameter.
      const only = task("only", ({ nodeId }: NodeContext) => nodeId)();
      return { rest, scaled, optional, only };
    });
    await expect(runAsync(g, undefined, { store: new MemoryStore() })).resolves.toEqual({
      rest: [1, 2],
      scaled: 10,
      optional: "2:undefined",
      only: "only",
    });
  });

  it("captures constants as they are, walks nested paths, and rebuilds plain objects and arrays that hold references", async () => {
    const config = { sep: "-" };
    const received: unknown[] = [];
    const g = graphify("args", (inputs: Ref<{ user: { name: string; tags: string[] } }>) => {
      const page = task("page", () => ({ body: "hello", list: [10, 20, 30] }))();
      const joined = task("join", (parts: { name: string; len: number; second: number }, words: string[], cfg: { sep: string }) => {
        received.push(cfg);
        return [parts.name, parts.len, parts.second, ...words].join(cfg.sep);
      })({ name: inputs.user.name, len: page.body.length, second: page.list[1] as Ref<number> }, [inputs.user.tags[0] as Ref<string>, "k"], config);
      const sum = task("sum", (a: number, b: number) => a + b)(page.list.length, 100);
      return { joined, sum, nested: { first: page.list[0] as Ref<number>, fixed: 7 }, tuple: [sum, "x"] };
    });
    expect(g.node("join")?.after).toEqual(["page"]);
    const out = await runAsync(g, { user: { name: "ada", tags: ["t1", "t2"] } }, { store: new MemoryStore() });
    expect(out).toEqual({ joined: "ada-5-20-t1-k", sum: 103, nested: { first: 10, fixed: 7 }, tuple: [103, "x"] });
    expect(received[0]).toBe(config); // a constant is the very object, not a copy
  });

  it("keeps a __proto__ key as a plain property when it rebuilds an object", async () => {
    const g = graphify("proto", () => {
      const v = task("v", () => 1)();
      const arg = JSON.parse('{"__proto__": 0}') as Record<string, unknown>;
      arg.__proto__ = v;
      return { out: task("keys", (o: Record<string, unknown>) => Object.keys(o))(arg) };
    });
    // JSON.parse made "__proto__" an own property; the rebuilt argument keeps it as one.
    await expect(runAsync(g, undefined, { store: new MemoryStore() })).resolves.toEqual({ out: ["__proto__"] });
  });

  it("fails the node without retrying when a path runs into undefined", async () => {
    let calls = 0;
    const g = graphify("holes", () => {
      const v = task("v", () => ({ a: undefined as { b: string } | undefined }))();
      return { len: task("len", (s: string) => (calls++, s.length))((v.a as Ref<{ b: string }>).b) };
    });
    const err = await runAsync(g, undefined, { store: new MemoryStore(), retry: { maxAttempts: 3 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).nodeId).toBe("len");
    expect((err as NodeFailedError).attempts).toBe(1);
    expect((err as NodeFailedError).cause).toBeInstanceOf(NonRetryableError);
    expect(((err as NodeFailedError).cause as Error).message).toContain('cannot read "b" of v.a, which is undefined');
    expect(calls).toBe(0);
  });

  it("applies retry and timeoutMs like the builder's node options", async () => {
    let attempts = 0;
    const g = graphify("opts", () => {
      const flaky = task(
        "flaky",
        (ctx: NodeContext) => {
          attempts = ctx.attempt;
          if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} fails`);
          return "ok";
        },
        { retry: { maxAttempts: 3, backoff: { initialMs: 0, jitter: false } }, timeoutMs: 5_000 },
      )();
      return { flaky };
    });
    expect(g.node("flaky")?.timeoutMs).toBe(5_000);
    await expect(runAsync(g, undefined, { store: new MemoryStore() })).resolves.toEqual({ flaky: "ok" });
    expect(attempts).toBe(3);
  });

  it("returns one reference as the whole output, and all node outputs when the function returns nothing", async () => {
    const single = graphify("single", (inputs: Ref<number>) => task("sq", (n: number) => n * n)(inputs));
    await expect(runAsync(single, 7, { store: new MemoryStore() })).resolves.toBe(49);
    const all = graphify("all", () => {
      const a = task("a", () => 1)();
      task("b", (x: number) => x + 1)(a);
    });
    await expect(runAsync(all, undefined, { store: new MemoryStore() })).resolves.toEqual({ a: 1, b: 2 });
  });

  it("validates inputs with options.input before anything runs", async () => {
    let ran = false;
    const g = graphify("validated", (inputs) => ({ n: task("n", (n: number) => ((ran = true), n))(inputs.n) }), { input: z.object({ n: z.number() }) });
    const err = await runAsync(g, { n: "x" } as never, { store: new MemoryStore() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputValidationError);
    expect(ran).toBe(false);
    await expect(runAsync(g, { n: 2 }, { store: new MemoryStore() })).resolves.toEqual({ n: 2 });
  });

  it("fails the node when a task body uses a reference it captured in a closure, or returns one", async () => {
    const captured = graphify("closure", (inputs: Ref<{ n: number }>) => {
      const a = task("a", (n: number) => n)(inputs.n);
      return { b: task("b", () => (a as unknown as number) + 1)() };
    });
    const err = await runAsync(captured, { n: 1 }, { store: new MemoryStore(), retry: { maxAttempts: 3 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).attempts).toBe(1);
    expect((err as NodeFailedError).cause).toBeInstanceOf(NonRetryableError);
    expect(((err as NodeFailedError).cause as Error).message).toContain("reference a was converted to a primitive");
    expect(((err as NodeFailedError).cause as Error).message).toContain('after graphify("closure") finished tracing');

    const returned = graphify("returns-ref", (inputs: Ref<{ n: number }>) => {
      return { b: task("b", () => inputs.n)() };
    });
    const err2 = await runAsync(returned, { n: 1 }, { store: new MemoryStore() }).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(NodeFailedError);
    expect((err2 as NodeFailedError).cause).toBeInstanceOf(NonRetryableError);
    expect(((err2 as NodeFailedError).cause as Error).message).toContain('task "b" returned the reference inputs.n');
  });
});

describe("using a reference's value while tracing is refused", () => {
  type V = Ref<{ n: number; s: string; list: number[] }>;
  /** Traces a graph whose only task output `v` is used by `use`. */
  const traceWith = (use: (v: V) => unknown): unknown =>
    thrown(() =>
      graphify("uses", () => {
        const v = task("v", () => ({ n: 1, s: "s", list: [1] }))();
        use(v);
        return { v };
      }),
    );
  const cases: [string, (v: V) => unknown, string, string][] = [
    ["arithmetic", (v) => (v.n as unknown as number) + 1, "v.n", "converted to a primitive"],
    ["string concatenation", (v) => "x" + (v.s as unknown as string), "v.s", "converted to a primitive"],
    ["a template literal", (v) => `a${v.s as unknown as string}`, "v.s", "converted to a primitive"],
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the test is that String() of a reference is refused
    ["String()", (v) => String(v), "v", "converted to a primitive"],
    ["== with a number", (v) => (v.n as unknown) == 3, "v.n", "converted to a primitive"],
    ["valueOf()", (v) => (v.n as unknown as number).valueOf(), "v.n", "converted to a primitive"],
    ["toString()", (v) => (v.n as unknown as number).toString(), "v.n", "converted to a primitive"],
    ["JSON.stringify", (v) => JSON.stringify({ a: v }), "v", "serialized (JSON.stringify)"],
    ["Promise.resolve", (v) => Promise.resolve(v).catch(() => undefined), "v", "awaited"],
    [
      "for…of",
      (v) => {
        for (const x of v.list as unknown as number[]) void x;
      },
      "v.list",
      "iterated",
    ],
    ["spread into an array", (v) => [...(v.list as unknown as number[])], "v.list", "iterated"],
    [
      "array destructuring",
      (v) => {
        const [x] = v.list as unknown as number[];
        return x;
      },
      "v.list",
      "iterated",
    ],
    ["in", (v) => "n" in v, "v", "tested with `in`"],
    ["delete", (v) => delete (v as unknown as { n?: unknown }).n, "v", "changed with `delete`"],
    ["assignment", (v) => ((v as unknown as { n: number }).n = 2), "v", "assigned to"],
    ["object spread", (v) => ({ ...v }), "v", "enumerated"],
    ["Object.keys", (v) => Object.keys(v), "v", "enumerated"],
    ["a method call", (v) => (v.s as unknown as string).trim(), "v.s.trim", "called as a function"],
    ["new", (v) => new (v as unknown as new () => object)(), "v", "called with new"],
    ["instanceof", (v) => v instanceof Array, "v", "inspected (instanceof"],
    ["Object.freeze", (v) => Object.freeze(v), "v", "frozen or sealed"],
    ["Object.defineProperty", (v) => Object.defineProperty(v, "k", { value: 1 }), "v", "changed with Object.defineProperty"],
    ["a symbol-keyed read", (v) => (v as unknown as Record<symbol, unknown>)[Symbol.toStringTag], "v", "read through the symbol Symbol(Symbol.toStringTag)"],
  ];
  it.each(cases)("refuses %s", (_name, use, ref, what) => {
    const problem = expectRefusal(traceWith(use), "uses", ref);
    expect(problem).toContain(what);
  });

  it("refuses await inside an async graphify function, even though the error becomes a rejection", async () => {
    const err = thrown(() =>
      graphify("async", async (inputs: Ref<{ url: string }>) => {
        // eslint-disable-next-line @typescript-eslint/await-thenable -- the test is that awaiting a reference is refused
        const page = await task("fetch", fetchPage)(inputs.url);
        return { page };
      }),
    );
    const problem = expectRefusal(err, "async", "fetch");
    expect(problem).toContain("awaited (await, Promise.resolve or .then)");
    expect(problem).toContain("a task call returns a reference at once");
  });

  it("still fails graphify when the function catches the refusal", () => {
    const err = thrown(() =>
      graphify("caught", (inputs: Ref<{ n: number }>) => {
        let label = "none";
        try {
          label = `n=${inputs.n as unknown as number}`;
        } catch {
          // swallowed on purpose
        }
        return { n: task("n", (l: string) => l)(label) };
      }),
    );
    expectRefusal(err, "caught", "inputs.n");
  });

  it("refuses a graphify function that returns a promise", () => {
    const err = thrown(() => graphify("promise", async () => ({ v: task("v", () => 1)() })));
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems).toEqual([expect.stringContaining("the graphify function returned a promise: it must be synchronous")]);
  });

  it("shows a reference in console output without using its value", async () => {
    const { inspect } = await import("node:util");
    graphify("inspect", (inputs: Ref<{ url: string }>) => {
      expect(inspect(inputs.url)).toBe("[Ref inputs.url]");
      const page = task("fetch", fetchPage)(inputs.url);
      expect(inspect(page.headers.size)).toBe("[Ref fetch.headers.size]");
      expect(page.body).toBe(page.body); // one ref per path
      return { page };
    });
  });

  it("does not trap truthiness or strict equality (documented limitation)", () => {
    // JavaScript cannot trap these: a reference is an object, always truthy, never === a primitive.
    let branch = "";
    const g = graphify("limits", () => {
      const v = task("v", () => ({ status: 500 }))();
      branch = (v.status as unknown) === 500 ? "equal" : v ? "truthy" : "falsy";
      return { v };
    });
    expect(branch).toBe("truthy");
    expect(g.size).toBe(1);
  });
});

describe("task misuse", () => {
  it("refuses task() outside graphify", () => {
    const err = thrown(() => task("loose", () => 1));
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems).toEqual([
      'task("loose") was called outside graphify: call task(id, fn) inside the function passed to graphify(name, fn)',
    ]);
  });

  it("refuses an id declared twice", () => {
    const err = thrown(() =>
      graphify("dup", () => {
        const a = task("same", () => 1)();
        return { a, b: task("same", () => 2)() };
      }),
    );
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems).toEqual(['task id "same" is used twice: each task needs its own id']);
  });

  it("refuses calling a task's function twice", () => {
    const err = thrown(() =>
      graphify("twice", () => {
        const double = task("double", (n: number) => n * 2);
        return { a: double(1), b: double(2) };
      }),
    );
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems[0]).toContain('task "double" was called twice');
  });

  it("refuses calling a task's function after the trace, and the trace slot is cleared after a failed graphify", () => {
    let late: (() => unknown) | undefined;
    graphify("late", () => {
      late = task("later", () => 1);
      return { v: task("v", () => 1)(), w: (late as () => Ref<number>)() };
    });
    const err = thrown(() => late?.());
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems[0]).toContain('task "later" was called after graphify("late") finished tracing');

    expect(() =>
      graphify("boom", () => {
        throw new RangeError("user bug");
      }),
    ).toThrow(RangeError);
    expect(thrown(() => task("after-boom", () => 1))).toBeInstanceOf(GraphDefinitionError);
  });

  it("refuses a task declared and never called, listing each", () => {
    const err = thrown(() =>
      graphify("uncalled", () => {
        task("x", () => 1);
        task("y", () => 2);
        return { z: task("z", () => 3)() };
      }),
    );
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems).toEqual(['task "x" was declared but never called', 'task "y" was declared but never called']);
  });

  it("refuses a reference from another graphify call", () => {
    let leaked: Ref<number> | undefined;
    graphify("first", () => {
      leaked = task("a", () => 1)();
      return { leaked };
    });
    const err = thrown(() => graphify("second", () => ({ b: task("b", (n: number) => n)(leaked as Ref<number>) })));
    expect(err).toBeInstanceOf(GraphDefinitionError);
    expect((err as GraphDefinitionError).problems[0]).toBe(
      'argument 1 of task "b" is the reference a from graphify("first"): a reference can only be used in the graphify call that made it',
    );
  });

  it("refuses bad task options and bodies, and graphify without a function", () => {
    const bad = thrown(() => graphify("opts", () => ({ v: task("v", () => 1, { after: ["x"] } as never)() })));
    expect(bad).toBeInstanceOf(GraphDefinitionError);
    expect((bad as GraphDefinitionError).problems[0]).toContain('unknown option "after"');
    const notFn = thrown(() => graphify("fn", () => ({ v: task("v", 42 as never)() })));
    expect((notFn as GraphDefinitionError).problems).toEqual(['task "v": its function is a number, not a function']);
    const badRetry = thrown(() => graphify("retry", () => ({ v: task("v", () => 1, { retry: { maxAttempts: 0 } })() })));
    expect(badRetry).toBeInstanceOf(GraphDefinitionError);
    expect((badRetry as GraphDefinitionError).problems[0]).toContain("maxAttempts");
    expect(() => graphify("none", 3 as never)).toThrow(InvalidOptionError);
    const empty = thrown(() => graphify("empty", () => ({})));
    expect((empty as GraphDefinitionError).problems).toEqual(["it has no nodes"]);
  });
});

describe("resume", () => {
  it("runs only the failed task and its dependents again", async () => {
    const store = new MemoryStore();
    const calls: Record<string, number> = {};
    const hit = (id: string): void => void (calls[id] = (calls[id] ?? 0) + 1);
    let failParse = true;
    const g = graphify("resume", (inputs: Ref<{ url: string }>) => {
      const page = task("fetch", (url: string) => (hit("fetch"), { body: `x,y@${url}` }))(inputs.url);
      const side = task("side", (url: string) => (hit("side"), url.length))(inputs.url);
      const rows = task("parse", (body: string) => {
        hit("parse");
        if (failParse) throw new NonRetryableError("parse fails the first time");
        return parseRows(body);
      })(page.body);
      const count = task("count", (r: string[]) => (hit("count"), r.length))(rows);
      return { count, side };
    });
    const err = await runAsync(g, { url: "u" }, { store, runId: "gfy-resume" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).nodeId).toBe("parse");
    expect(calls).toEqual({ fetch: 1, side: 1, parse: 1 });

    failParse = false;
    const out = await runAsync(g, { url: "u" }, { store, runId: "gfy-resume" });
    expect(out).toEqual({ count: 2, side: 1 });
    expect(calls).toEqual({ fetch: 1, side: 1, parse: 2, count: 1 });
    expect((await getRun("gfy-resume", { store })).status).toBe("succeeded");
  });
});

describe("graphify types", () => {
  it("types task arguments, node outputs and graph outputs", async () => {
    const g = graphify("typed", (inputs: Ref<{ url: string; limit: number }>) => {
      const page = task("fetch", async (url: string, { signal }: NodeContext) => ({ body: url, aborted: signal.aborted }))(inputs.url);
      expectTypeOf(page).toEqualTypeOf<Ref<{ body: string; aborted: boolean }>>();
      expectTypeOf(page.body.length).toEqualTypeOf<Ref<number>>();
      const take = task("take", (body: string, n: number) => body.slice(0, n));
      // The trailing NodeContext parameter is not an argument to pass.
      expectTypeOf(take).parameters.toEqualTypeOf<[string | Ref<string>, number | Ref<number>]>();
      // @ts-expect-error a Ref<string> where a number is expected
      void (() => take(page.body, inputs.url));
      // @ts-expect-error a number where a string is expected
      void (() => take(3, 1));
      // @ts-expect-error too few arguments
      void (() => take(page.body));
      const rows = take(page.body, inputs.limit);
      const pair = task("pair", (p: { a: string; n: number }) => `${p.a}${p.n}`);
      // @ts-expect-error a Ref<string> inside an object where a number is expected
      void (() => pair({ a: rows, n: rows }));
      const label = pair({ a: rows, n: page.body.length });
      // @ts-expect-error a ref has no property the value's type lacks
      void page.missing;
      // Strict equality cannot be trapped at run time, but tsc flags comparing a ref with a value.
      // @ts-expect-error the types 'Ref<number>' and 'number' have no overlap
      void (() => page.body.length === 3);
      return { rows, label, size: page.body.length, nested: { url: inputs.url, fixed: true as const } };
    });
    type Out = { rows: string; label: string; size: number; nested: { url: string; fixed: true } };
    expectTypeOf(g).toEqualTypeOf<TaskGraph<{ url: string; limit: number }, Out>>();
    const out = await runAsync(g, { url: "abcdef", limit: 3 }, { store: new MemoryStore() });
    expectTypeOf(out).toEqualTypeOf<Out>();
    expect(out).toEqual({ rows: "abc", label: "abc6", size: 6, nested: { url: "abcdef", fixed: true } });
    // @ts-expect-error the inputs' type is checked
    void (() => runAsync(g, { url: 1, limit: 3 }));
  });

  it("types a single returned reference, a graph that returns nothing, and inputs from a validator", () => {
    const single = graphify("single", (inputs: Ref<number>) => task("sq", (n: number) => n * n)(inputs));
    expectTypeOf(single).toEqualTypeOf<TaskGraph<number, number>>();
    const all = graphify("all", () => {
      task("a", () => 1)();
    });
    expectTypeOf(all).toEqualTypeOf<TaskGraph<undefined, Record<string, unknown>>>();
    const validated = graphify("validated", (inputs) => ({ n: task("n", (x: number) => x)(inputs.n) }), {
      input: z.object({ n: z.number() }),
    });
    expectTypeOf(validated).toEqualTypeOf<TaskGraph<{ n: number }, { n: number }>>();
  });
});
