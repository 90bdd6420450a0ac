/**
 * `run()` and `runAsync()` take a builder or a plain async function as
 * well as a built graph (issue 18 item 4), and `runAsync` never throws
 * synchronously (item 5).
 */
import { describe, expect, it } from "vitest";
import {
  GraphDefinitionError,
  InvalidOptionError,
  InvalidRunIdError,
  MemoryStore,
  getRun,
  graph,
  graphFn,
  run,
  runAsync,
  type RunOptions,
} from "../src/index.js";
import { rejection } from "./support/async.js";

/** Calls `fn` and returns what it threw synchronously, or "no throw". */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return "no throw";
}

describe("run() and runAsync() take a builder or a plain function (item 4)", () => {
  it("a builder is built", async () => {
    const store = new MemoryStore();
    const builder = graph("b")
      .input<{ n: number }>()
      .node("double", ({ inputs }) => inputs.n * 2)
      .output(({ double }) => double);
    const out: number = await runAsync(builder, { n: 21 }, { store });
    expect(out).toBe(42);
    expect(await run(builder, { n: 1 }, { store }).result()).toBe(2);
  });

  it("a builder that cannot build: GraphDefinitionError, thrown by run() and rejected by runAsync()", async () => {
    const bad = graph("cyclic")
      .node("a", () => 1, { after: ["b"] as never })
      .node("b", () => 2, { after: ["a"] });
    const sync = thrownBy(() => run(bad, undefined, { store: new MemoryStore() }));
    expect(sync).toBeInstanceOf(GraphDefinitionError);
    expect(await rejection(runAsync(bad, undefined, { store: new MemoryStore() }))).toBeInstanceOf(GraphDefinitionError);
    // A build() that throws something else is a GraphDefinitionError too, with the cause kept.
    const odd = {
      build(): never {
        throw new TypeError("nope");
      },
    };
    const error = await rejection(runAsync(odd, undefined, { store: new MemoryStore() }));
    expect(error).toBeInstanceOf(GraphDefinitionError);
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it("a plain async function is a durable one-node run: resumed by id, it is not called again", async () => {
    const store = new MemoryStore();
    let calls = 0;
    const work = async (inputs: { to: string }): Promise<string> => {
      calls += 1;
      return `hello ${inputs.to}`;
    };
    const handle = run(work, { to: "ada" }, { runId: "fn-1", store });
    expect(handle.runId).toBe("fn-1");
    const out: string = await handle.result();
    expect(out).toBe("hello ada");
    const stored = await getRun("fn-1", { store });
    expect(stored.graphName).toBe("work");
    expect(stored.status).toBe("succeeded");
    expect(stored.outputs).toBe("hello ada");
    expect(stored.nodes.map((n) => [n.id, n.status])).toEqual([["main", "succeeded"]]);
    expect(await runAsync(work, undefined, { runId: "fn-1", store })).toBe("hello ada");
    expect(calls).toBe(1);
  });

  it("the function gets the node context: its steps are journaled, and a failed run resumes past them", async () => {
    const store = new MemoryStore();
    const log: string[] = [];
    let fail = true;
    const job = async (_inputs: undefined, { step }: { step: <T>(name: string, fn: () => T | Promise<T>) => Promise<T> }): Promise<number> => {
      const a = await step("a", () => {
        log.push("a");
        return 1;
      });
      if (fail) throw new Error("flaky");
      return a + 1;
    };
    const first = await rejection(runAsync(job, undefined, { runId: "fn-2", store, retry: { maxAttempts: 1 } }));
    expect((first as Error).name).toBe("NodeFailedError");
    fail = false;
    expect(await runAsync(job, undefined, { runId: "fn-2", store })).toBe(2);
    expect(log).toEqual(["a"]);
  });

  it("an anonymous function is named 'function'; a graphFn still runs as itself", async () => {
    const store = new MemoryStore();
    await runAsync(async () => 1, undefined, { runId: "fn-3", store });
    expect((await getRun("fn-3", { store })).graphName).toBe("function");
    const g = graphFn("gf", async (inputs: number, { step }) => step("x", () => inputs + 1));
    expect(await runAsync(g, 1, { runId: "fn-4", store })).toBe(2);
    expect((await getRun("fn-4", { store })).nodes.map((n) => n.id)).toEqual(["x"]);
  });

  it("something that is not runnable is refused with InvalidOptionError", async () => {
    expect(thrownBy(() => run({} as never, undefined))).toBeInstanceOf(InvalidOptionError);
    expect(thrownBy(() => run(null as never, undefined))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(runAsync(42 as never, undefined))).toBeInstanceOf(InvalidOptionError);
  });
});

describe("runAsync never throws synchronously (item 5)", () => {
  const g = graph("g")
    .node("a", () => 1)
    .build();
  const cases: [string, () => Promise<unknown>, new (...args: never[]) => Error][] = [
    ["a bad option", () => runAsync(g, undefined, { maxConcurrency: 0, store: new MemoryStore() }), InvalidOptionError],
    ["an unknown option", () => runAsync(g, undefined, { maxConcurency: 2 } as RunOptions), InvalidOptionError],
    ["options that are not an object", () => runAsync(g, undefined, "fast" as RunOptions), InvalidOptionError],
    ["a bad run id", () => runAsync(g, undefined, { runId: "../etc", store: new MemoryStore() }), InvalidRunIdError],
    ["a bad store", () => runAsync(g, undefined, { store: {} as never }), InvalidOptionError],
    ["a bad timeoutMs", () => runAsync(g, undefined, { timeoutMs: -5, store: new MemoryStore() }), InvalidOptionError],
    ["not a graph", () => runAsync(undefined as never, undefined), InvalidOptionError],
  ];
  for (const [what, call, type] of cases) {
    it(`${what}: the promise rejects, nothing is thrown`, async () => {
      let promise: Promise<unknown> | undefined;
      expect(() => (promise = call())).not.toThrow();
      expect(promise).toBeInstanceOf(Promise);
      expect(await rejection(promise as Promise<unknown>)).toBeInstanceOf(type);
    });
  }

  it("run() keeps throwing synchronously for bad options, as documented", () => {
    expect(thrownBy(() => run(g, undefined, { maxConcurrency: 0 }))).toBeInstanceOf(InvalidOptionError);
    expect(thrownBy(() => run(g, undefined, { runId: "../etc" }))).toBeInstanceOf(InvalidRunIdError);
  });
});
