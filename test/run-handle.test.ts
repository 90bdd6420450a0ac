/**
 * `run()` and its RunHandle: synchronous start, run ids and caller ids,
 * events, cancellation (cancel, signal, asyncDispose), outputs, input
 * validation, option validation, and the node context (`step`, `emit`,
 * outputs that cannot be stored).
 */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  InputValidationError,
  InvalidOptionError,
  InvalidRunIdError,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  RunCancelledError,
  getRun,
  graph,
  run,
  runAsync,
  type RunEventMap,
  type RunEventName,
  type RunOptions,
  type StandardSchemaLike,
} from "../src/index.js";
import { deferred, nextEvent, rejection } from "./support/async.js";

/** Calls `fn` and returns what it threw synchronously (fails the test if it did not). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a synchronous throw");
}

const store = (): MemoryStore => new MemoryStore();

/** A one-node graph whose node waits on `gate` and records its signal. */
function gated() {
  const gate = deferred<string>();
  const started = deferred();
  const seen: { signal?: AbortSignal; ran: boolean } = { ran: false };
  const g = graph("gated")
    .node("wait", async ({ signal }) => {
      seen.ran = true;
      seen.signal = signal;
      started.resolve();
      return gate.promise;
    })
    .node("after", ({ deps }) => `${deps.wait}!`, { after: ["wait"] })
    .build();
  return { g, gate, started, seen };
}

describe("run() and the handle", () => {
  it("returns synchronously before any node body starts", async () => {
    let started = false;
    const g = graph("sync")
      .node("a", () => {
        started = true;
        return 1;
      })
      .build();
    const handle = run(g, undefined, { store: store() });
    expect(started).toBe(false);
    expect(handle.status).toBe("pending");
    expect(typeof handle.runId).toBe("string");
    expect(handle.runId.length).toBeGreaterThan(0);
    expect(handle.state).toBeUndefined();
    await expect(handle.result()).resolves.toEqual({ a: 1 });
    expect(started).toBe(true);
    expect(handle.status).toBe("succeeded");
  });

  it("reports running while a node runs", async () => {
    const { g, gate, started } = gated();
    const handle = run(g, undefined, { store: store() });
    await started.promise;
    expect(handle.status).toBe("running");
    expect(handle.state?.meta.status).toBe("running");
    gate.resolve("x");
    await expect(handle.result()).resolves.toEqual({ wait: "x", after: "x!" });
    expect(handle.status).toBe("succeeded");
    expect(handle.state?.meta.status).toBe("succeeded");
  });

  it("generates a run id when none is given, and keeps a given one", async () => {
    const g = graph("ids")
      .node("a", ({ runId }) => runId)
      .build();
    const s = store();
    const one = run(g, undefined, { store: s });
    const two = run(g, undefined, { store: s });
    expect(one.runId).toMatch(/^run-[0-9a-f-]{36}$/);
    expect(two.runId).not.toBe(one.runId);
    await expect(one.result()).resolves.toEqual({ a: one.runId });
    await two.result();

    const given = run(g, undefined, { store: s, runId: "nightly-2026-11-23" });
    expect(given.runId).toBe("nightly-2026-11-23");
    await expect(given.result()).resolves.toEqual({ a: "nightly-2026-11-23" });
    expect((await getRun("nightly-2026-11-23", { store: s })).status).toBe("succeeded");
  });

  it("records sessionId, agentId and appId with the run", async () => {
    const s = store();
    const g = graph("tagged")
      .node("a", () => 1)
      .build();
    await runAsync(g, undefined, { store: s, runId: "tagged-1", sessionId: "sess-7", agentId: "agent-3", appId: "app-9" });
    const details = await getRun("tagged-1", { store: s });
    expect(details.sessionId).toBe("sess-7");
    expect(details.agentId).toBe("agent-3");
    expect(details.appId).toBe("app-9");
    expect(details.graphName).toBe("tagged");
    expect(details.fingerprint).toBe(g.fingerprint);
    expect(details.nodes.map((n) => [n.id, n.status, n.output])).toEqual([["a", "succeeded", 1]]);
  });
});

describe("events", () => {
  it("emits run and node events in order for a 2-node chain, each with runId and at", async () => {
    const clock = new ManualClock(5_000);
    const g = graph("chain")
      .node("a", () => 1)
      .node("b", ({ deps }) => deps.a + 1, { after: ["a"] })
      .build();
    const handle = run(g, undefined, { store: store(), clock, runId: "chain-1" });
    const seen: { name: RunEventName; payload: Record<string, unknown> }[] = [];
    const names = ["run:start", "node:start", "node:success", "node:error", "run:success", "run:error"] as const;
    for (const name of names) handle.events.on(name, (payload) => void seen.push({ name, payload: { ...payload } }));
    await handle.result();
    expect(seen.map((e) => `${e.name}${e.payload.nodeId === undefined ? "" : ` ${e.payload.nodeId as string}`}`)).toEqual([
      "run:start",
      "node:start a",
      "node:success a",
      "node:start b",
      "node:success b",
      "run:success",
    ]);
    for (const { payload } of seen) {
      expect(payload.runId).toBe("chain-1");
      expect(typeof payload.at).toBe("number");
      expect(payload.at).toBe(5_000);
    }
    const [start, , successA, , successB, done] = seen.map((e) => e.payload);
    expect(start).toMatchObject({ graphName: "chain", resumed: false, kept: 0 });
    expect(successA).toMatchObject({ attempt: 1, output: 1, durationMs: 0 });
    expect(successB).toMatchObject({ output: 2 });
    expect(done).toMatchObject({ outputs: { a: 1, b: 2 } });
  });

  it("a listener that throws, or rejects, does not break the run", async () => {
    const reported: [unknown, RunEventName][] = [];
    const thrownError = new Error("listener bug");
    const rejectedError = new Error("async listener bug");
    const g = graph("listeners")
      .node("a", () => 1)
      .node("b", ({ deps }) => deps.a + 1, { after: ["a"] })
      .build();
    const handle = run(g, undefined, {
      store: store(),
      onListenerError: (error, event) => void reported.push([error, event]),
    });
    const later: string[] = [];
    handle.events.on("node:success", () => {
      throw thrownError;
    });
    handle.events.on("node:success", (e) => void later.push(e.nodeId)); // still called after the one that threw
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the test is that a listener's rejection reaches onListenerError
    handle.events.on("run:start", async () => {
      await Promise.resolve();
      throw rejectedError;
    });
    await expect(handle.result()).resolves.toEqual({ a: 1, b: 2 });
    await Promise.resolve();
    expect(later).toEqual(["a", "b"]);
    // Which is reported first, the async listener's rejection or a later sync throw, depends on
    // how many microtasks the nodes take; the contract is that each is reported once.
    expect(reported).toHaveLength(3);
    expect(reported).toEqual(
      expect.arrayContaining([
        [rejectedError, "run:start"],
        [thrownError, "node:success"],
      ]),
    );
    expect(reported.filter(([e]) => e === thrownError)).toHaveLength(2);
    expect(handle.status).toBe("succeeded");
  });

  it("ctx.emit produces a node:event", async () => {
    const g = graph("emit")
      .node("a", ({ emit }) => {
        emit("progress", { done: 3, of: 10 });
        emit("bare");
        return "ok";
      })
      .build();
    const handle = run(g, undefined, { store: store(), clock: new ManualClock(42) });
    const events: RunEventMap["node:event"][] = [];
    handle.events.on("node:event", (e) => void events.push(e));
    await handle.result();
    expect(events).toEqual([
      { runId: handle.runId, at: 42, nodeId: "a", name: "progress", data: { done: 3, of: 10 } },
      { runId: handle.runId, at: 42, nodeId: "a", name: "bare", data: undefined },
    ]);
  });
});

describe("cancellation", () => {
  it("cancel(reason) rejects result() with RunCancelledError and aborts running node signals", async () => {
    const { g, started, seen } = gated();
    const handle = run(g, undefined, { store: store() });
    const cancelEvent = nextEvent(handle, "run:cancel");
    await started.promise;
    expect(seen.signal?.aborted).toBe(false);
    handle.cancel("user pressed stop");
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(RunCancelledError);
    const rc = err as RunCancelledError;
    expect(rc.code).toBe("RUN_CANCELLED");
    expect(rc.reason).toBe("user pressed stop");
    expect(rc.runId).toBe(handle.runId);
    expect(seen.signal?.aborted).toBe(true);
    expect(seen.signal?.reason).toBeInstanceOf(RunCancelledError);
    expect(handle.status).toBe("cancelled");
    expect((await cancelEvent).reason).toBe("user pressed stop");
  });

  it("cancel() right after run() stops the run before any node starts", async () => {
    const { g, seen } = gated();
    const s = store();
    const handle = run(g, undefined, { store: s, runId: "early-cancel" });
    handle.cancel("changed my mind");
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(RunCancelledError);
    expect((err as RunCancelledError).code).toBe("RUN_CANCELLED");
    expect((err as RunCancelledError).reason).toBe("changed my mind");
    expect(seen.ran).toBe(false);
    expect(handle.status).toBe("cancelled");
  });

  it("an external signal aborts the run", async () => {
    const { g, started, seen } = gated();
    const controller = new AbortController();
    const handle = run(g, undefined, { store: store(), signal: controller.signal });
    await started.promise;
    controller.abort(new Error("the request was closed"));
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(RunCancelledError);
    expect((err as RunCancelledError).code).toBe("RUN_CANCELLED");
    expect((err as RunCancelledError).reason).toBe("the request was closed");
    expect(seen.signal?.aborted).toBe(true);
  });

  it("a signal shared by many runs keeps no listener once they end", async () => {
    const controller = new AbortController();
    const g = graph("shared-signal")
      .node("a", () => 1)
      .build();
    for (let i = 0; i < 12; i++) await runAsync(g, undefined, { store: store(), signal: controller.signal });
    const failing = graph("shared-signal-fails")
      .node("a", () => {
        throw new Error("no");
      })
      .build();
    await rejection(runAsync(failing, undefined, { store: store(), signal: controller.signal, retry: { maxAttempts: 1 } }));
    await Promise.resolve();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("an already aborted signal runs nothing", async () => {
    const { g, seen } = gated();
    const handle = run(g, undefined, { store: store(), signal: AbortSignal.abort("too late") });
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(RunCancelledError);
    expect((err as RunCancelledError).code).toBe("RUN_CANCELLED");
    expect((err as RunCancelledError).reason).toBe("too late");
    expect(seen.ran).toBe(false);
  });

  it("Symbol.asyncDispose cancels a running run", async () => {
    const { g, started, seen } = gated();
    const handle = run(g, undefined, { store: store() });
    await started.promise;
    await handle[Symbol.asyncDispose]();
    expect(seen.signal?.aborted).toBe(true);
    expect(handle.status).toBe("cancelled");
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(RunCancelledError);
    expect((err as RunCancelledError).code).toBe("RUN_CANCELLED");
  });

  it("Symbol.asyncDispose on a finished run changes nothing", async () => {
    const g = graph("done")
      .node("a", () => 1)
      .build();
    const handle = run(g, undefined, { store: store() });
    await handle.result();
    await handle[Symbol.asyncDispose]();
    expect(handle.status).toBe("succeeded");
    await expect(handle.result()).resolves.toEqual({ a: 1 });
  });
});

describe("outputs", () => {
  it("a graph input can be exposed directly as an output", async () => {
    const g = graph("passthrough")
      .input<{ x: number; y: string }>()
      .node("noop", () => null)
      .output((_, inputs) => inputs.x)
      .build();
    await expect(runAsync(g, { x: 41, y: "y" }, { store: store() })).resolves.toBe(41);
  });

  it("a graph without output() returns every node's output", async () => {
    const g = graph("all")
      .input<{ n: number }>()
      .node("a", ({ inputs }) => inputs.n)
      .node("b", async ({ deps }) => [deps.a, deps.a * 2], { after: ["a"] })
      .node("c", () => undefined)
      .build();
    await expect(runAsync(g, { n: 3 }, { store: store() })).resolves.toEqual({ a: 3, b: [3, 6], c: undefined });
  });
});

describe("input validation", () => {
  it("a parse() validator that throws zod-like issues gives InputValidationError, and no node runs", async () => {
    let ran = false;
    const zodLikeError = Object.assign(new Error("invalid"), { issues: [{ path: ["url"], message: "Required" }] });
    const validator = {
      parse(value: unknown): { url: string } {
        if (typeof (value as { url?: unknown } | null)?.url !== "string") throw zodLikeError;
        return value as { url: string };
      },
    };
    const g = graph("validated")
      .input(validator)
      .node("fetch", ({ inputs }) => {
        ran = true;
        return inputs.url;
      })
      .build();
    const s = store();
    const handle = run(g, {} as never, { store: s, runId: "bad-input" });
    const err = await rejection(handle.result());
    const handleStatusAfter = handle.status;
    expect(err).toBeInstanceOf(InputValidationError);
    const iv = err as InputValidationError;
    expect(iv.code).toBe("INPUT_VALIDATION");
    expect(iv.issues).toEqual([{ path: ["url"], message: "Required" }]);
    expect(iv.message).toContain("url: Required");
    expect(iv.cause).toBe(zodLikeError);
    expect(ran).toBe(false);
    expect(await s.load("bad-input")).toBeUndefined();
    expect(handleStatusAfter).toBe("failed");

    await expect(runAsync(g, { url: "https://x" }, { store: s })).resolves.toEqual({ fetch: "https://x" });
    expect(ran).toBe(true);
  });

  it("a Standard Schema validator can pass (and transform) or fail", async () => {
    const schema: StandardSchemaLike<{ n: number }> = {
      "~standard": {
        version: 1,
        vendor: "x",
        validate: (v: unknown) => {
          const raw = (v as { n?: unknown } | null)?.n;
          if (typeof raw === "string" && /^\d+$/.test(raw)) return { value: { n: Number(raw) } };
          return { issues: [{ message: "n must be digits", path: [{ key: "n" }] }, { message: "second problem" }] };
        },
      },
    } as StandardSchemaLike<{ n: number }>;
    const seen: unknown[] = [];
    const g = graph("standard")
      .input(schema)
      .node("double", ({ inputs }) => {
        seen.push(inputs);
        return inputs.n * 2;
      })
      .output(({ double }) => double)
      .build();

    await expect(runAsync(g, { n: "21" } as never, { store: store() })).resolves.toBe(42);
    expect(seen).toEqual([{ n: 21 }]);

    const err = await rejection(runAsync(g, { n: "x" } as never, { store: store() }));
    expect(err).toBeInstanceOf(InputValidationError);
    const iv = err as InputValidationError;
    expect(iv.code).toBe("INPUT_VALIDATION");
    expect(iv.issues).toEqual([
      { path: ["n"], message: "n must be digits" },
      { path: [], message: "second problem" },
    ]);
    expect(seen).toHaveLength(1);
  });

  it("a Standard Schema validator that throws, or returns no result, or a parse validator that throws null issues: InputValidationError, never an untyped error", async () => {
    const standard = (validate: (v: unknown) => unknown) =>
      ({ "~standard": { version: 1, vendor: "x", validate } }) as unknown as StandardSchemaLike<{ n: number }>;
    const throwing = new Error("refinement blew up");
    const cases: [string, StandardSchemaLike<{ n: number }> | { parse(v: unknown): never }, string][] = [
      [
        "validate throws",
        standard(() => {
          throw throwing;
        }),
        "refinement blew up",
      ],
      ["validate returns undefined", standard(() => undefined), "the schema's validate returned undefined, not a result"],
      [
        "parse throws issues holding null",
        {
          parse: () => {
            throw Object.assign(new Error("bad"), { issues: [null] });
          },
        },
        "undefined",
      ],
    ];
    for (const [what, schema, message] of cases) {
      const g = graph("standard-throws")
        .input(schema as StandardSchemaLike<{ n: number }>)
        .node("a", () => 1)
        .build();
      const err = await rejection(runAsync(g, { n: 1 }, { store: store() }));
      expect(err, what).toBeInstanceOf(InputValidationError);
      expect((err as InputValidationError).issues[0]?.message, what).toBe(message);
    }
  });

  it("an async Standard Schema (a zod schema) works too", async () => {
    const g = graph("zod")
      .input(z.object({ url: z.string(), retries: z.coerce.number().default(2) }))
      .node("echo", ({ inputs }) => inputs)
      .output(({ echo }) => echo)
      .build();
    await expect(runAsync(g, { url: "u" } as never, { store: store() })).resolves.toEqual({ url: "u", retries: 2 });
    const err = await rejection(runAsync(g, { retries: 1 } as never, { store: store() }));
    expect(err).toBeInstanceOf(InputValidationError);
    expect((err as InputValidationError).code).toBe("INPUT_VALIDATION");
    expect((err as InputValidationError).issues.map((i) => i.path)).toEqual([["url"]]);
  });
});

describe("option validation (synchronous)", () => {
  const g = graph("opts")
    .node("a", () => 1)
    .build();

  it.each<[string, Record<string, unknown>, string]>([
    ["maxConcurrency 0", { maxConcurrency: 0 }, "maxConcurrency"],
    ["maxConcurrency 1.5", { maxConcurrency: 1.5 }, "maxConcurrency"],
    ['maxConcurrency "8"', { maxConcurrency: "8" }, "maxConcurrency"],
    ["maxConcurrency NaN", { maxConcurrency: Number.NaN }, "maxConcurrency"],
    ["retry.maxAttempts 0", { retry: { maxAttempts: 0 } }, "retry.maxAttempts"],
    ["retry.backoff.initialMs -1", { retry: { backoff: { initialMs: -1 } } }, "retry.backoff.initialMs"],
    ["retry.backoff.factor 0.5", { retry: { backoff: { factor: 0.5 } } }, "retry.backoff.factor"],
    ["retry.timeoutMs 0", { retry: { timeoutMs: 0 } }, "retry.timeoutMs"],
    ["leaseTtlMs 0", { leaseTtlMs: 0 }, "leaseTtlMs"],
    ["leaseTtlMs 1 (below the 100 ms floor)", { leaseTtlMs: 1 }, "leaseTtlMs"],
    ["leaseTtlMs 99.5", { leaseTtlMs: 99.5 }, "leaseTtlMs"],
    ["an unknown key", { maxConcurency: 4 }, "maxConcurency"],
    ["snapshot bogus", { snapshot: "sometimes" }, "snapshot"],
    ["continueOnError as a string", { continueOnError: "yes" }, "continueOnError"],
    ["signal not a signal", { signal: {} }, "signal"],
    ["store not a store", { store: {} }, "store"],
  ])("%s throws InvalidOptionError from run()", (_, options, option) => {
    let started = false;
    const withStore = { store: store(), ...options } as RunOptions;
    const err = thrown(() => {
      started = true;
      return run(g, undefined, withStore);
    });
    expect(started).toBe(true);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).code).toBe("INVALID_OPTION");
    expect((err as InvalidOptionError).option).toBe(option);
  });

  it.each(["../x", "a/b", "", "x".repeat(201), ".hidden"])("runId %j throws InvalidRunIdError", (runId) => {
    const err = thrown(() => run(g, undefined, { store: store(), runId }));
    expect(err).toBeInstanceOf(InvalidRunIdError);
    expect((err as InvalidRunIdError).code).toBe("INVALID_RUN_ID");
  });

  it("a first argument that is not a graph throws InvalidOptionError", () => {
    // An unbuilt builder is runnable since issue 18 item 4 (run-runnable.test.ts): it is built, not refused.
    for (const notAGraph of [undefined, {}, { name: "fake", fingerprint: "x" }, 42]) {
      const err = thrown(() => run(notAGraph as never, undefined, { store: store() }));
      expect(err).toBeInstanceOf(InvalidOptionError);
      expect((err as InvalidOptionError).code).toBe("INVALID_OPTION");
      expect((err as InvalidOptionError).option).toBe("graph");
    }
  });

  it("runAsync rejects with the same errors, never throwing synchronously (issue 18 item 5)", async () => {
    let promise: Promise<unknown> | undefined;
    expect(() => (promise = runAsync(g, undefined, { store: store(), maxConcurrency: 0 }))).not.toThrow();
    const err = await rejection(promise as Promise<unknown>);
    expect(err).toBeInstanceOf(InvalidOptionError);
    expect((err as InvalidOptionError).code).toBe("INVALID_OPTION");
  });

  it("maxConcurrency Infinity and valid options are accepted", async () => {
    const handle = run(g, undefined, {
      store: store(),
      maxConcurrency: Infinity,
      retry: { maxAttempts: 1, backoff: { initialMs: 0 }, timeoutMs: 1_000 },
      leaseTtlMs: 1_000,
      snapshot: { intervalMs: 10 },
    });
    await expect(handle.result()).resolves.toEqual({ a: 1 });
  });
});

describe("node context", () => {
  it("ctx.step journals: a step done before a failed attempt is not done again", async () => {
    let stepCalls = 0;
    const attemptsSeen: [number, unknown][] = [];
    const g = graph("steps")
      .node(
        "charge",
        async ({ attempt, step }) => {
          const receipt = await step("charge-card", () => {
            stepCalls += 1;
            return { receipt: `r-${stepCalls}` };
          });
          attemptsSeen.push([attempt, receipt]);
          if (attempt === 1) throw new Error("crashed after charging");
          return receipt;
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 0 } } },
      )
      .build();
    const s = store();
    const out = await runAsync(g, undefined, { store: s, runId: "steps-1" });
    expect(stepCalls).toBe(1);
    expect(attemptsSeen).toEqual([
      [1, { receipt: "r-1" }],
      [2, { receipt: "r-1" }],
    ]);
    expect(out).toEqual({ charge: { receipt: "r-1" } });
    const node = (await getRun("steps-1", { store: s })).nodes[0];
    expect(node?.attempts).toBe(2);
    expect(node?.steps).toEqual({ "charge-card": { receipt: "r-1" } });
  });

  it("ctx.step called twice with one name in an attempt fails the node", async () => {
    const g = graph("dup-step")
      .node("a", async ({ step }) => {
        await step("s", () => 1);
        await step("s", () => 2);
        return 0;
      })
      .build();
    const err = await rejection(runAsync(g, undefined, { store: store(), retry: { maxAttempts: 1 } }));
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).code).toBe("NODE_FAILED");
    expect((err as NodeFailedError).cause).toBeInstanceOf(InvalidOptionError);
  });

  it.each([
    ["a function", () => () => "hi"],
    [
      "a class instance",
      () =>
        new (class Connection {
          readonly host = "db";
        })(),
    ],
  ])("an output that cannot be serialized (%s) still succeeds, with an OUTPUT_NOT_DURABLE warning", async (_, make) => {
    const value = make();
    const g = graph("not-durable")
      .node("a", () => value)
      .node("b", ({ deps }) => typeof deps.a, { after: ["a"] })
      .build();
    const handle = run(g, undefined, { store: store() });
    const warnings: RunEventMap["warning"][] = [];
    handle.events.on("warning", (w) => void warnings.push(w));
    const out = await handle.result();
    expect(out.a).toBe(value);
    expect(out.b).toBe(typeof value);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ runId: handle.runId, nodeId: "a", code: "OUTPUT_NOT_DURABLE" });
    expect(typeof warnings[0]?.at).toBe("number");
    expect(handle.status).toBe("succeeded");
  });
});
