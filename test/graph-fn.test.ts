/**
 * `graphFn`: dynamic graphs whose `ctx.step(id, fn)` calls are node
 * activations with a journaled result. Through the public API, on a
 * MemoryStore or a LowdbStore in a temp folder (a fresh LowdbStore on the
 * same folder stands in for a new process):
 * - results and events equal those of the equivalent fluent-builder graph;
 * - `Promise.all` runs steps in parallel, never above `maxConcurrency`;
 * - per-step retry policies (exact delays under a ManualClock), failures
 *   that the body catches (sagas) or not;
 * - resume: recorded steps are replayed without running, the failed one
 *   runs again; a body that asks for other steps gets `NonDeterminismError`;
 * - step id validation, direct calls, input validation, cancellation,
 *   succeeded runs, nested node-level `step`, and `waitFor` inside a step.
 *
 * Nothing sleeps: step bodies wait on gates the test opens, and time is a
 * ManualClock where it matters.
 */
import { describe, expect, it } from "vitest";
import {
  GraphHasPendingWaits,
  InputValidationError,
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  NodeTimeoutError,
  NonDeterminismError,
  RunCancelledError,
  TaskGraph,
  getRun,
  graph,
  graphFn,
  isGraphFn,
  resolveWait,
  run,
  runAsync,
  type RunEventMap,
  type RunHandle,
} from "../src/index.js";
import { deferred, until, rejection } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Lets the event loop turn `n` times: whatever could start, has. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Counts step body calls by id. */
function counter() {
  const calls: Record<string, number> = {};
  return {
    calls,
    hit: (id: string): void => {
      calls[id] = (calls[id] ?? 0) + 1;
    },
  };
}

const { tempDir, lowdb } = tempStores("taskloom-graphfn-");

type NodeEventName = "node:start" | "node:success" | "node:retry" | "node:error";

/** Records every node event of a handle as `name nodeId attempt`, and run-level event names. */
function recordEvents(handle: RunHandle<unknown>): { node: string[]; run: string[]; outputs: Record<string, unknown> } {
  const node: string[] = [];
  const runEvents: string[] = [];
  const outputs: Record<string, unknown> = {};
  for (const name of ["node:start", "node:success", "node:retry", "node:error"] as const satisfies readonly NodeEventName[]) {
    handle.events.on(name, (e: RunEventMap[NodeEventName]) => {
      node.push(`${name} ${e.nodeId} ${e.attempt}`);
      if (name === "node:success") outputs[e.nodeId] = (e as RunEventMap["node:success"]).output;
    });
  }
  for (const name of ["run:start", "run:success", "run:error", "run:cancel", "run:waiting"] as const) {
    handle.events.on(name, () => runEvents.push(name));
  }
  return { node, run: runEvents, outputs };
}

// ---------------------------------------------------------------------------
// 1. Same results and events as the fluent builder
// ---------------------------------------------------------------------------

describe("graphFn and the equivalent fluent-builder graph", () => {
  const fluent = graph("orders-fluent")
    .input<{ n: number }>()
    .node("seed", ({ inputs }) => ({ base: inputs.n, at: new Date(Date.UTC(2026, 0, 2)) }))
    .node("double", ({ deps }) => deps.seed.base * 2, { after: ["seed"] })
    .node("square", ({ deps }) => deps.seed.base ** 2, { after: ["seed"] })
    .node("total", ({ deps }) => new Map([["sum", deps.double + deps.square]]), { after: ["double", "square"] })
    .output(({ seed, total }) => ({ at: seed.at, sum: total.get("sum") }))
    .build();

  const dynamic = graphFn("orders-dynamic", async (inputs: { n: number }, { step }) => {
    const seed = await step("seed", () => ({ base: inputs.n, at: new Date(Date.UTC(2026, 0, 2)) }));
    const [double, square] = await Promise.all([step("double", () => seed.base * 2), step("square", () => seed.base ** 2)]);
    const total = await step("total", () => new Map([["sum", double + square]]));
    return { at: seed.at, sum: total.get("sum") };
  });

  it("resolve to the same outputs and emit the same node and run events, in the same order", async () => {
    const a = run(fluent, { n: 3 }, { store: new MemoryStore(), runId: "same" });
    const b = run(dynamic, { n: 3 }, { store: new MemoryStore(), runId: "same" });
    const ea = recordEvents(a);
    const eb = recordEvents(b);
    const [outA, outB] = await Promise.all([a.result(), b.result()]);

    expect(outA).toEqual({ at: new Date(Date.UTC(2026, 0, 2)), sum: 15 });
    expect(outB).toEqual(outA);
    expect(eb.node).toEqual(ea.node);
    expect(eb.node).toEqual([
      "node:start seed 1",
      "node:success seed 1",
      "node:start double 1", // synchronous bodies settle as they start
      "node:success double 1",
      "node:start square 1",
      "node:success square 1",
      "node:start total 1",
      "node:success total 1",
    ]);
    expect(eb.outputs).toEqual(ea.outputs);
    expect(eb.run).toEqual(ea.run);
    expect(eb.run).toEqual(["run:start", "run:success"]);
  });

  it("store the same node records (ids, statuses, outputs, attempts) and the same outputs", async () => {
    const dir = tempDir();
    await runAsync(fluent, { n: 4 }, { store: lowdb(dir), runId: "fluent" });
    await dynamic({ n: 4 }, { store: lowdb(dir), runId: "dynamic" });
    const [fa, fb] = await Promise.all([getRun("fluent", { store: lowdb(dir) }), getRun("dynamic", { store: lowdb(dir) })]);
    const shape = (nodes: typeof fa.nodes) => Object.fromEntries(nodes.map((n) => [n.id, { status: n.status, attempts: n.attempts, output: n.output }]));
    expect(shape(fb.nodes)).toEqual(shape(fa.nodes));
    expect(Object.keys(shape(fb.nodes)).sort()).toEqual(["double", "seed", "square", "total"]);
    expect(fb.status).toBe("succeeded");
    expect(fb.outputs).toEqual(fa.outputs);
    expect(fb.outputs).toEqual({ at: new Date(Date.UTC(2026, 0, 2)), sum: 24 });
  });

  it("a failing step produces the same node:error and NodeFailedError as a failing node", async () => {
    const boom = (): never => {
      throw new Error("boom");
    };
    const f = graph("fail-fluent")
      .node("a", () => 1)
      .node("b", boom, { after: ["a"], retry: { maxAttempts: 1 } })
      .build();
    const d = graphFn("fail-dynamic", async (_: undefined, { step }) => {
      await step("a", () => 1);
      return step("b", boom, { retry: { maxAttempts: 1 } });
    });
    const a = run(f, undefined, { store: new MemoryStore() });
    const b = run(d, undefined, { store: new MemoryStore() });
    const ea = recordEvents(a);
    const eb = recordEvents(b);
    const [errA, errB] = await Promise.all([rejection(a.result()), rejection(b.result())]);
    expect(errA).toBeInstanceOf(NodeFailedError);
    expect(errB).toBeInstanceOf(NodeFailedError);
    expect(errB).toMatchObject({ code: "NODE_FAILED", nodeId: "b", attempts: 1, runId: b.runId });
    expect((errB as NodeFailedError).cause).toEqual(new Error("boom"));
    expect(eb.node).toEqual(ea.node);
    expect(eb.node).toEqual(["node:start a 1", "node:success a 1", "node:start b 1", "node:error b 1"]);
    expect(eb.run).toEqual(["run:start", "run:error"]);
  });
});

// ---------------------------------------------------------------------------
// 2. Parallel steps under maxConcurrency
// ---------------------------------------------------------------------------

describe("steps awaited together", () => {
  it("run in parallel, never more than maxConcurrency at once", async () => {
    const ids = ["s1", "s2", "s3", "s4", "s5"];
    const gates = new Map(ids.map((id) => [id, deferred()]));
    const started: string[] = [];
    let running = 0;
    let peak = 0;
    const fn = graphFn("fan", async (_: undefined, { step }) => {
      const out = await Promise.all(
        ids.map((id) =>
          step(id, async () => {
            started.push(id);
            running += 1;
            peak = Math.max(peak, running);
            await gates.get(id)?.promise;
            running -= 1;
            return id.toUpperCase();
          }),
        ),
      );
      return out.join(",");
    });
    const handle = run(fn, undefined, { store: new MemoryStore(), maxConcurrency: 2 });

    await until(() => started.length === 2, "two steps to start");
    await turns();
    expect(started).toEqual(["s1", "s2"]); // both at once, and no third
    expect(running).toBe(2);

    gates.get("s1")?.resolve();
    await until(() => started.length === 3, "a third step after one ended");
    await turns();
    expect(started).toEqual(["s1", "s2", "s3"]);
    expect(running).toBe(2);

    for (const id of ids) gates.get(id)?.resolve();
    await expect(handle.result()).resolves.toBe("S1,S2,S3,S4,S5");
    expect(peak).toBe(2);
    expect(started.sort()).toEqual(ids);
  });

  it("steps awaited one after the other run one at a time, in call order", async () => {
    let running = 0;
    let peak = 0;
    const order: string[] = [];
    const fn = graphFn("seq", async (_: undefined, { step }) => {
      let acc = 0;
      for (const id of ["x", "y", "z"]) {
        acc += await step(id, async () => {
          order.push(id);
          running += 1;
          peak = Math.max(peak, running);
          await turns(3);
          running -= 1;
          return acc + 1;
        });
      }
      return acc;
    });
    await expect(fn(undefined, { store: new MemoryStore(), maxConcurrency: 8 })).resolves.toBe(7); // 1, then 1 + 2, then 3 + 4
    expect(order).toEqual(["x", "y", "z"]);
    expect(peak).toBe(1);
  });
});

// ---------------------------------------------------------------------------
// 3. Retries, failures and sagas
// ---------------------------------------------------------------------------

describe("step retry policies", () => {
  it("apply per step, with the exact backoff delays (ManualClock)", async () => {
    const clock = new ManualClock(1_000);
    const { calls, hit } = counter();
    const fn = graphFn("retry", async (_: undefined, { step }) => {
      const flaky = await step(
        "flaky",
        ({ attempt }) => {
          hit("flaky");
          if (attempt < 3) throw new Error(`attempt ${attempt} failed`);
          return `ok on ${attempt}`;
        },
        { retry: { maxAttempts: 3, backoff: { initialMs: 10, jitter: false } } },
      );
      // The same kind of failure, but this step allows one attempt only.
      const once = await step(
        "once",
        () => {
          hit("once");
          throw new Error("no second chance");
        },
        { retry: { maxAttempts: 1 } },
      ).catch((e: unknown) => e);
      return { flaky, once: (once as NodeFailedError).attempts };
    });
    const handle = run(fn, undefined, { store: new MemoryStore(), clock });
    const retries: RunEventMap["node:retry"][] = [];
    handle.events.on("node:retry", (e) => retries.push(e));
    const starts: string[] = [];
    handle.events.on("node:start", (e) => starts.push(`${e.nodeId}@${e.at}`));

    await until(() => retries.length === 1, "the first retry");
    expect(clock.pendingDelays()).toContain(10);
    await clock.advance(10);
    await until(() => retries.length === 2, "the second retry");
    expect(clock.pendingDelays()).toContain(20);
    await clock.advance(20);

    await expect(handle.result()).resolves.toEqual({ flaky: "ok on 3", once: 1 });
    expect(retries.map((r) => [r.nodeId, r.attempt, r.delayMs])).toEqual([
      ["flaky", 1, 10],
      ["flaky", 2, 20],
    ]);
    expect(retries.map((r) => (r.error as Error).message)).toEqual(["attempt 1 failed", "attempt 2 failed"]);
    expect(starts).toEqual(["flaky@1000", "flaky@1010", "flaky@1030", "once@1030"]);
    expect(calls).toEqual({ flaky: 3, once: 1 });
  });

  it("a step timeout fails the attempt with NodeTimeoutError (ManualClock)", async () => {
    const clock = new ManualClock(0);
    const fn = graphFn("timeout", async (_: undefined, { step }) =>
      step("slow", ({ signal }) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))), {
        timeoutMs: 50,
        retry: { maxAttempts: 1 },
      }),
    );
    const handle = run(fn, undefined, { store: new MemoryStore(), clock });
    const started = deferred();
    handle.events.on("node:start", () => started.resolve());
    await started.promise;
    await clock.advance(50);
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as NodeFailedError).cause).toBeInstanceOf(NodeTimeoutError);
    expect((error as NodeFailedError).cause).toMatchObject({ code: "NODE_TIMEOUT", nodeId: "slow", timeoutMs: 50 });
  });
});

describe("a step that runs out of attempts", () => {
  const chargeFails = (hit: (id: string) => void) => () => {
    hit("charge");
    throw new Error("card declined");
  };

  it("rejects in the body with NodeFailedError; the body catches it, compensates, and the run succeeds", async () => {
    const { calls, hit } = counter();
    let seen: unknown;
    const store = new MemoryStore();
    const saga = graphFn("saga", async (inputs: { order: string }, { step }) => {
      const reserved = await step("reserve", () => {
        hit("reserve");
        return `held:${inputs.order}`;
      });
      try {
        await step("charge", chargeFails(hit), { retry: { maxAttempts: 2, backoff: { initialMs: 0 } } });
        return { status: "paid" };
      } catch (error) {
        seen = error;
        const released = await step("release", () => {
          hit("release");
          return `released:${reserved}`;
        });
        return { status: "compensated", released };
      }
    });
    const handle = run(saga, { order: "o-1" }, { store, runId: "saga-1" });
    const events = recordEvents(handle);
    await expect(handle.result()).resolves.toEqual({ status: "compensated", released: "released:held:o-1" });

    expect(seen).toBeInstanceOf(NodeFailedError);
    expect(seen).toMatchObject({ code: "NODE_FAILED", nodeId: "charge", attempts: 2, runId: "saga-1" });
    expect(((seen as NodeFailedError).cause as Error).message).toBe("card declined");
    expect(calls).toEqual({ reserve: 1, charge: 2, release: 1 });
    expect(events.node).toContain("node:error charge 2");
    expect(events.run).toEqual(["run:start", "run:success"]);
    const stored = await getRun("saga-1", { store });
    expect(stored.status).toBe("succeeded");
    expect(Object.fromEntries(stored.nodes.map((n) => [n.id, n.status]))).toEqual({
      reserve: "succeeded",
      charge: "failed",
      release: "succeeded",
    });
  });

  it("uncaught, fails the run with that same NodeFailedError", async () => {
    const { calls, hit } = counter();
    let seen: unknown;
    const fn = graphFn("uncaught", async (_: undefined, { step }) => {
      await step("reserve", () => "held");
      await step("charge", chargeFails(hit), { retry: { maxAttempts: 1 } }).catch((e: unknown) => {
        seen = e;
        throw e;
      });
      hit("after");
      return "unreachable";
    });
    const store = new MemoryStore();
    const error = await rejection(runAsync(fn, undefined, { store, runId: "uncaught-1" }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect(error).toBe(seen);
    expect(error).toMatchObject({ code: "NODE_FAILED", nodeId: "charge", attempts: 1 });
    expect(calls).toEqual({ charge: 1 });
    const stored = await getRun("uncaught-1", { store });
    expect(stored.status).toBe("failed");
    expect(stored.error).toMatchObject({ code: "NODE_FAILED" });
  });
});

// ---------------------------------------------------------------------------
// 4. Resume and replay
// ---------------------------------------------------------------------------

describe("resuming a graphFn run", () => {
  it("replays succeeded steps without running them and runs the failed step again (LowdbStore, new instance)", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    let failC = true;
    const bodyCalls: number[] = [];
    const fn = graphFn("resume", async (inputs: { k: number }, { step }) => {
      bodyCalls.push(bodyCalls.length + 1);
      const a = await step("a", () => {
        hit("a");
        return { a: inputs.k, when: new Date(Date.UTC(2026, 5, 1)) };
      });
      const [b1, b2] = await Promise.all([
        step("b1", () => {
          hit("b1");
          return a.a + 1;
        }),
        step("b2", () => {
          hit("b2");
          return new Set([a.a + 2]);
        }),
      ]);
      const c = await step(
        "c",
        () => {
          hit("c");
          if (failC) throw new Error("c is down");
          return b1 + [...b2][0]!;
        },
        { retry: { maxAttempts: 1 } },
      );
      return { c, when: a.when };
    });

    const first = await rejection(runAsync(fn, { k: 10 }, { store: lowdb(dir), runId: "r-1" }));
    expect(first).toBeInstanceOf(NodeFailedError);
    expect(first).toMatchObject({ code: "NODE_FAILED", nodeId: "c" });
    expect(calls).toEqual({ a: 1, b1: 1, b2: 1, c: 1 });
    const saved = await getRun("r-1", { store: lowdb(dir) });
    expect(saved.nodes.map((n) => [n.id, n.status])).toEqual([
      ["a", "succeeded"],
      ["b1", "succeeded"],
      ["b2", "succeeded"],
      ["c", "failed"],
    ]);

    failC = false;
    const handle = run(fn, undefined, { store: lowdb(dir), runId: "r-1" });
    const events = recordEvents(handle);
    await expect(handle.result()).resolves.toEqual({ c: 23, when: new Date(Date.UTC(2026, 5, 1)) });
    expect(calls).toEqual({ a: 1, b1: 1, b2: 1, c: 2 });
    expect(bodyCalls).toEqual([1, 2]); // the body itself runs again: replay is cheap, steps are not re-run
    // Replayed steps emit nothing; only the re-run step does.
    expect(events.node).toEqual(["node:start c 1", "node:success c 1"]);
    const final = await getRun("r-1", { store: lowdb(dir) });
    expect(final.status).toBe("succeeded");
    expect(final.starts).toBe(2);
    expect(final.nodes.every((n) => n.status === "succeeded")).toBe(true);
  });

  it("a body that throws fails the run with its own error; resumed, it replays its steps", async () => {
    const store = new MemoryStore();
    const { calls, hit } = counter();
    let buggy = true;
    const fn = graphFn("body-throws", async (_: undefined, { step }) => {
      const a = await step("a", () => {
        hit("a");
        return 20;
      });
      if (buggy) throw new TypeError("bug in the body");
      return step("b", () => {
        hit("b");
        return a + 1;
      });
    });
    const error = await rejection(fn(undefined, { store, runId: "bt-1" }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe("bug in the body");
    expect((await getRun("bt-1", { store })).status).toBe("failed");
    buggy = false;
    await expect(fn(undefined, { store, runId: "bt-1" })).resolves.toBe(21);
    expect(calls).toEqual({ a: 1, b: 1 });
  });

  it("a resumed body that asks for another step than the journal recorded gets NonDeterminismError", async () => {
    const store = new MemoryStore();
    const { calls, hit } = counter();
    const v1 = graphFn("checkout", async (_: undefined, { step }) => {
      await step("a", () => hit("a"));
      await step(
        "b",
        () => {
          hit("b");
          throw new Error("b fails");
        },
        { retry: { maxAttempts: 1 } },
      );
      return "v1";
    });
    // Same name, so the same fingerprint: only the journal can tell them apart.
    const v2 = graphFn("checkout", async (_: undefined, { step }) => {
      await step("a", () => hit("a"));
      await step("c", () => hit("c"));
      return "v2";
    });
    expect(v2.graph.fingerprint).toBe(v1.graph.fingerprint);
    await expect(runAsync(v1, undefined, { store, runId: "nd-1" })).rejects.toBeInstanceOf(NodeFailedError);

    const error = await rejection(runAsync(v2, undefined, { store, runId: "nd-1" }));
    expect(error).toBeInstanceOf(NonDeterminismError);
    expect(error).toMatchObject({ code: "NON_DETERMINISM", runId: "nd-1", position: 1, expected: "b", actual: "c" });
    expect((error as Error).message).toContain('"b"');
    expect((error as Error).message).toContain('"c"');
    expect(calls).toEqual({ a: 1, b: 1 }); // "a" replayed, "c" never ran
    const stored = await getRun("nd-1", { store });
    expect(stored.status).toBe("failed");
    expect(stored.error).toMatchObject({ code: "NON_DETERMINISM" });
  });

  it("catches divergence at the first step too, from a body that branches on outside state", async () => {
    const store = new MemoryStore();
    let useCache = false;
    const { calls, hit } = counter();
    const fn = graphFn("branchy", async (_: undefined, { step }) => {
      const first = useCache ? await step("cache", () => hit("cache")) : await step("fetch", () => hit("fetch"));
      await step(
        "fail",
        () => {
          throw new Error("stop here");
        },
        { retry: { maxAttempts: 1 } },
      );
      return first;
    });
    await expect(runAsync(fn, undefined, { store, runId: "nd-0" })).rejects.toBeInstanceOf(NodeFailedError);
    useCache = true;
    let seen: unknown;
    const handle = run(fn, undefined, { store, runId: "nd-0" });
    handle.events.on("run:error", (e) => (seen = e.error));
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(NonDeterminismError);
    expect(error).toMatchObject({ code: "NON_DETERMINISM", position: 0, expected: "fetch", actual: "cache" });
    expect(seen).toBe(error);
    expect(calls).toEqual({ fetch: 1 });
  });

  it("a deterministic body that swaps the order of parallel steps is caught as well", async () => {
    const store = new MemoryStore();
    let swap = false;
    const fn = graphFn("swap", async (_: undefined, { step }) => {
      const ids = swap ? ["q", "p"] : ["p", "q"];
      await Promise.all(ids.map((id) => step(id, () => id)));
      await step(
        "end",
        () => {
          throw new Error("stop");
        },
        { retry: { maxAttempts: 1 } },
      );
    });
    await expect(runAsync(fn, undefined, { store, runId: "swap-1" })).rejects.toBeInstanceOf(NodeFailedError);
    swap = true;
    const error = await rejection(runAsync(fn, undefined, { store, runId: "swap-1" }));
    expect(error).toBeInstanceOf(NonDeterminismError);
    expect(error).toMatchObject({ position: 0, expected: "p", actual: "q" });
  });

  it("a succeeded run called again returns its stored output without calling the body", async () => {
    const dir = tempDir();
    let bodyCalls = 0;
    const { calls, hit } = counter();
    const fn = graphFn("done", async (inputs: { x: number }, { step }) => {
      bodyCalls += 1;
      const y = await step("y", () => {
        hit("y");
        return inputs.x * 3;
      });
      return { y, at: new Date(Date.UTC(2026, 1, 3)) };
    });
    const out = await fn({ x: 2 }, { store: lowdb(dir), runId: "done-1" });
    expect(out).toEqual({ y: 6, at: new Date(Date.UTC(2026, 1, 3)) });
    expect(bodyCalls).toBe(1);

    const handle = run(fn, { x: 2 }, { store: lowdb(dir), runId: "done-1" });
    const events = recordEvents(handle);
    await expect(handle.result()).resolves.toEqual(out);
    await expect(runAsync(fn, undefined, { store: lowdb(dir), runId: "done-1" })).resolves.toEqual(out);
    expect(bodyCalls).toBe(1);
    expect(calls).toEqual({ y: 1 });
    expect(events.node).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// 5. Step ids
// ---------------------------------------------------------------------------

describe("step ids", () => {
  it("are refused with InvalidOptionError when empty, longer than 200 characters, containing '#', or used twice", async () => {
    const { calls, hit } = counter();
    const errors: Record<string, unknown> = {};
    const fn = graphFn("ids", async (_: undefined, { step }) => {
      const attempt = async (label: string, id: string): Promise<void> => {
        await step(id, () => hit(label)).catch((e: unknown) => void (errors[label] = e));
      };
      await attempt("empty", "");
      await attempt("long", "x".repeat(201));
      await attempt("hash", "a#1");
      await attempt("max", "y".repeat(200)); // 200 is fine
      await attempt("first", "dup");
      await attempt("second", "dup");
      await attempt("nonString", 42 as unknown as string);
      return Object.keys(errors).sort();
    });
    await expect(fn(undefined, { store: new MemoryStore() })).resolves.toEqual(["empty", "hash", "long", "nonString", "second"]);
    for (const label of ["empty", "long", "hash", "second", "nonString"]) {
      expect(errors[label], label).toBeInstanceOf(InvalidOptionError);
      expect(errors[label], label).toMatchObject({ code: "INVALID_OPTION" });
    }
    expect((errors.second as Error).message).toContain('"dup"');
    expect(calls).toEqual({ max: 1, first: 1 });
  });

  it("an uncaught invalid id fails the run with that InvalidOptionError", async () => {
    const fn = graphFn("bad-id", async (_: undefined, { step }) => step("has#hash", () => 1));
    const error = await rejection(fn(undefined, { store: new MemoryStore() }));
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error).toMatchObject({ code: "INVALID_OPTION" });
  });

  it("a refused duplicate does not shift the replay: the same body resumes cleanly", async () => {
    const store = new MemoryStore();
    const { calls, hit } = counter();
    let failLast = true;
    const fn = graphFn("dup-replay", async (_: undefined, { step }) => {
      await step("once", () => hit("once"));
      const dup = await step("once", () => hit("dup")).catch((e: unknown) => (e as InvalidOptionError).code);
      const last = await step(
        "last",
        () => {
          hit("last");
          if (failLast) throw new Error("last is down");
          return "ok";
        },
        { retry: { maxAttempts: 1 } },
      );
      return { dup, last };
    });
    await expect(fn(undefined, { store, runId: "dup-1" })).rejects.toBeInstanceOf(NodeFailedError);
    failLast = false;
    await expect(fn(undefined, { store, runId: "dup-1" })).resolves.toEqual({ dup: "INVALID_OPTION", last: "ok" });
    expect(calls).toEqual({ once: 1, last: 2 });
  });
});

// ---------------------------------------------------------------------------
// 6. Ways to call it, inputs
// ---------------------------------------------------------------------------

describe("calling a graphFn", () => {
  const add = graphFn("add", async (inputs: { a: number; b: number }, { step, runId }) => {
    const sum = await step("sum", () => inputs.a + inputs.b);
    return { sum, runId };
  });

  it("directly, and through run() and runAsync()", async () => {
    const store = new MemoryStore();
    expect(isGraphFn(add)).toBe(true);
    expect(isGraphFn(add.graph)).toBe(false);
    expect(add.graph).toBeInstanceOf(TaskGraph);
    expect(add.graph.name).toBe("add");

    await expect(add({ a: 1, b: 2 }, { store, runId: "direct" })).resolves.toEqual({ sum: 3, runId: "direct" });
    const handle = run(add, { a: 2, b: 2 }, { store, runId: "handle" });
    expect(handle.runId).toBe("handle");
    expect(handle.status).toBe("pending");
    await expect(handle.result()).resolves.toEqual({ sum: 4, runId: "handle" });
    expect(handle.status).toBe("succeeded");
    await expect(runAsync(add, { a: 3, b: 2 }, { store, runId: "async" })).resolves.toEqual({ sum: 5, runId: "async" });
    await expect(runAsync(add.graph, { a: 4, b: 2 }, { store, runId: "graph" })).resolves.toEqual({ sum: 6, runId: "graph" });
    const listed = await Promise.all(["direct", "handle", "async", "graph"].map((id) => getRun(id, { store })));
    expect(listed.map((r) => [r.graphName, r.status])).toEqual(Array(4).fill(["add", "succeeded"]));
  });

  it("refuses a body that is not a function, and a validator without parse", () => {
    expect(() => graphFn("x", 42 as never)).toThrow(InvalidOptionError);
    expect(() => graphFn("x", async () => 1, { input: {} as never })).toThrow(InvalidOptionError);
  });

  it("validates inputs with the input option before the body runs", async () => {
    let bodyCalls = 0;
    const typed = graphFn(
      "typed",
      async (inputs: { n: number }, { step }) => {
        bodyCalls += 1;
        return step("n", () => inputs.n + 1);
      },
      {
        input: {
          parse(value: unknown): { n: number } {
            const n = (value as { n?: unknown } | null)?.n;
            if (typeof n !== "number") throw new Error("n must be a number");
            return { n };
          },
        },
      },
    );
    const store = new MemoryStore();
    const error = await rejection(typed({ n: "1" } as unknown as { n: number }, { store, runId: "bad" }));
    expect(error).toBeInstanceOf(InputValidationError);
    expect(error).toMatchObject({ code: "INPUT_VALIDATION", issues: [{ path: [], message: "n must be a number" }] });
    expect(bodyCalls).toBe(0);
    await expect(typed({ n: 1 }, { store, runId: "good" })).resolves.toBe(2);
    expect(bodyCalls).toBe(1);
  });

  it("ctx.emit sends node:event from the body with node id $graphFn", async () => {
    const fn = graphFn("emit", async (_: undefined, { emit, step }) => {
      emit("phase", { name: "start" });
      return step("s", () => 1);
    });
    const handle = run(fn, undefined, { store: new MemoryStore() });
    const seen: RunEventMap["node:event"][] = [];
    handle.events.on("node:event", (e) => seen.push(e));
    await handle.result();
    expect(seen.map((e) => [e.nodeId, e.name, e.data])).toEqual([["$graphFn", "phase", { name: "start" }]]);
  });
});

// ---------------------------------------------------------------------------
// 7. Cancellation
// ---------------------------------------------------------------------------

describe("cancelling a graphFn run", () => {
  it("rejects with RunCancelledError, aborts running steps, and the body's pending step rejects", async () => {
    const started = deferred();
    const never = deferred();
    let stepSignal: AbortSignal | undefined;
    let bodySignal: AbortSignal | undefined;
    let pendingRejection: unknown;
    const { calls, hit } = counter();
    const fn = graphFn("cancel", async (_: undefined, { step, signal }) => {
      bodySignal = signal;
      await step("quick", () => hit("quick"));
      const slow = step("slow", async ({ signal: s }) => {
        hit("slow");
        stepSignal = s;
        started.resolve();
        await never.promise; // ignores its signal: the attempt still ends
      });
      try {
        await slow;
      } catch (error) {
        pendingRejection = error;
        throw error;
      }
      await step("after", () => hit("after"));
    });
    const store = new MemoryStore();
    const handle = run(fn, undefined, { store, runId: "cancel-1" });
    const events = recordEvents(handle);
    await started.promise;
    handle.cancel("user pressed stop");
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(RunCancelledError);
    expect(error).toMatchObject({ code: "RUN_CANCELLED", runId: "cancel-1", reason: "user pressed stop" });
    expect(pendingRejection).toBeInstanceOf(RunCancelledError);
    expect(stepSignal?.aborted).toBe(true);
    expect(bodySignal?.aborted).toBe(true);
    expect(calls).toEqual({ quick: 1, slow: 1 });
    expect(handle.status).toBe("cancelled");
    expect(events.run).toEqual(["run:start", "run:cancel"]);
    const stored = await getRun("cancel-1", { store });
    expect(stored.status).toBe("cancelled");
    expect(Object.fromEntries(stored.nodes.map((n) => [n.id, n.status]))).toEqual({ quick: "succeeded", slow: "cancelled" });

    // Resumed, the cancelled step runs again and the run finishes.
    never.resolve();
    await expect(runAsync(fn, undefined, { store, runId: "cancel-1" })).resolves.toBeUndefined();
    expect(calls).toEqual({ quick: 1, slow: 2, after: 1 });
  });
});

describe("cancelling a graphFn run whose body awaits something other than a step", () => {
  it("still ends the run with RunCancelledError: the body is not waited for", async () => {
    const never = deferred();
    const reached = deferred();
    let bodySignal: AbortSignal | undefined;
    const { calls, hit } = counter();
    const fn = graphFn("cancel-body", async (_: undefined, { step, signal }) => {
      bodySignal = signal;
      await step("a", () => hit("a"));
      reached.resolve();
      await never.promise; // a fetch or a sleep that ignores ctx.signal
      await step("b", () => hit("b"));
    });
    const handle = run(fn, undefined, { store: new MemoryStore() });
    await reached.promise;
    handle.cancel("stop now");
    const outcome = await Promise.race([rejection(handle.result()), turns(200).then(() => "still running")]);
    expect(outcome).toBeInstanceOf(RunCancelledError);
    expect(outcome).toMatchObject({ code: "RUN_CANCELLED", reason: "stop now" });
    expect(bodySignal?.aborted).toBe(true);
    // The body goes on later: its next step is refused, nothing runs.
    never.resolve();
    await turns();
    expect(calls).toEqual({ a: 1 });
  });
});

// ---------------------------------------------------------------------------
// 8. Inside a step: node-level step and waitFor
// ---------------------------------------------------------------------------

describe("inside a step body", () => {
  it("the NodeContext's step journals: a retry (ManualClock) does not repeat it", async () => {
    const clock = new ManualClock(0);
    const { calls, hit } = counter();
    const fn = graphFn("nested-retry", async (_: undefined, { step }) =>
      step(
        "pay",
        async ({ step: inner, attempt }) => {
          hit("pay");
          const charge = await inner("charge", () => {
            hit("charge");
            return "ch_1";
          });
          if (attempt === 1) throw new Error("receipt service down");
          return { charge, attempt };
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 5, jitter: false } } },
      ),
    );
    const store = new MemoryStore();
    const handle = run(fn, undefined, { store, clock, runId: "nested-1" });
    const retried = deferred();
    handle.events.on("node:retry", () => retried.resolve());
    await retried.promise;
    await clock.advance(5);
    await expect(handle.result()).resolves.toEqual({ charge: "ch_1", attempt: 2 });
    expect(calls).toEqual({ pay: 2, charge: 1 });
    const stored = await getRun("nested-1", { store });
    expect(stored.nodes.find((n) => n.id === "pay")?.steps).toEqual({ charge: "ch_1" });
  });

  it("the NodeContext's step journals across processes: a resumed run does not repeat it", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    let fail = true;
    const fn = graphFn("nested-resume", async (_: undefined, { step }) => {
      const head = await step("head", () => {
        hit("head");
        return 1;
      });
      return step(
        "pay",
        async ({ step: inner }) => {
          hit("pay");
          const charge = await inner("charge", () => {
            hit("charge");
            return { id: "ch_2", at: new Date(Date.UTC(2026, 2, 4)) };
          });
          if (fail) throw new Error("crash after charging");
          return { head, charge };
        },
        { retry: { maxAttempts: 1 } },
      );
    });
    await expect(fn(undefined, { store: lowdb(dir), runId: "nested-2" })).rejects.toBeInstanceOf(NodeFailedError);
    const saved = await getRun("nested-2", { store: lowdb(dir) });
    expect(saved.nodes.find((n) => n.id === "pay")?.steps).toEqual({ charge: { id: "ch_2", at: new Date(Date.UTC(2026, 2, 4)) } });
    fail = false;
    await expect(fn(undefined, { store: lowdb(dir), runId: "nested-2" })).resolves.toEqual({
      head: 1,
      charge: { id: "ch_2", at: new Date(Date.UTC(2026, 2, 4)) },
    });
    expect(calls).toEqual({ head: 1, pay: 2, charge: 1 });
  });

  it("waitFor: runAsync rejects with GraphHasPendingWaits; after resolveWait the run completes without re-running earlier steps", async () => {
    const dir = tempDir();
    const { calls, hit } = counter();
    const fn = graphFn("approve", async (inputs: { doc: string }, { step }) => {
      const draft = await step("draft", () => {
        hit("draft");
        return `draft of ${inputs.doc}`;
      });
      const [review, lint] = await Promise.all([
        step("review", async ({ waitFor, step: inner }) => {
          hit("review");
          await inner("notify", () => hit("notify"));
          return waitFor<{ approved: boolean }>("review:doc-1");
        }),
        step("lint", () => {
          hit("lint");
          return "clean";
        }),
      ]);
      return step("publish", () => {
        hit("publish");
        return { draft, approved: review.approved, lint };
      });
    });

    const handle = run(fn, { doc: "d1" }, { store: lowdb(dir), runId: "wait-1" });
    const events = recordEvents(handle);
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    expect(error).toMatchObject({ code: "PENDING_WAITS", runId: "wait-1", waits: [{ key: "review:doc-1", nodeId: "review" }] });
    expect(events.run).toEqual(["run:start", "run:waiting"]);
    expect(calls).toEqual({ draft: 1, review: 1, notify: 1, lint: 1 });
    const waiting = await getRun("wait-1", { store: lowdb(dir) });
    expect(waiting.status).toBe("waiting");

    await resolveWait("wait-1", "review:doc-1", { approved: true }, { store: lowdb(dir) });
    await expect(runAsync(fn, undefined, { store: lowdb(dir), runId: "wait-1" })).resolves.toEqual({
      draft: "draft of d1",
      approved: true,
      lint: "clean",
    });
    // The waiting step ran again (it had not finished), but its journaled inner step did not.
    expect(calls).toEqual({ draft: 1, review: 2, notify: 1, lint: 1, publish: 1 });
    const final = await getRun("wait-1", { store: lowdb(dir) });
    expect(final.status).toBe("succeeded");
  });

  it("waitFor resolved while the run is live lets the body go on in the same process", async () => {
    const store = new MemoryStore();
    const { calls, hit } = counter();
    const fn = graphFn("live-wait", async (_: undefined, { step }) => {
      const payload = await step("ask", ({ waitFor }) => {
        hit("ask");
        return waitFor<string>("answer");
      });
      return step("use", () => `got ${payload}`);
    });
    const handle = run(fn, undefined, { store, runId: "live-1" });
    handle.events.on("node:wait", (e) => void resolveWait(e.runId, e.key, "42", { store }));
    await expect(handle.result()).resolves.toBe("got 42");
    expect(calls).toEqual({ ask: 1 });
  });
});
