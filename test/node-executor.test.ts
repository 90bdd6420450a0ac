/**
 * The executor hook in the core: a `NodeExecutor` in the run options runs
 * every node body of a static graph (the scheduler keeps concurrency,
 * retries and journaling), graphFn steps stay local, and `takeover: true`
 * takes a live lease.
 */
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import {
  graph,
  graphFn,
  InvalidOptionError,
  MemoryStore,
  runAsync,
  RunLockedError,
  run,
  type NodeActivation,
  type NodeContext,
  type NodeExecutor,
} from "../src/index.js";

/** Runs bodies in this process, but through the hook, recording what it was given. */
function recordingExecutor(g: { node(id: string): { fn: (c: NodeContext) => unknown } | undefined }) {
  const seen: NodeActivation[] = [];
  const stopped: string[] = [];
  let running = 0;
  let max = 0;
  const executor: NodeExecutor = {
    async execute(activation, context) {
      seen.push(activation);
      running += 1;
      max = Math.max(max, running);
      try {
        await new Promise((r) => setImmediate(r));
        return await g.node(activation.nodeId)!.fn(context);
      } finally {
        running -= 1;
      }
    },
    async runStopped(runId, stop) {
      stopped.push(`${runId}${stop.leaseLost ? " (lease lost)" : ""}`);
    },
  };
  return { executor, seen, stopped, max: () => max };
}

describe("NodeExecutor hook", () => {
  it("hands every attempt to the executor, with its activation, under the run's limits", async () => {
    let flaky = 0;
    const g = graph("hooked")
      .input<{ base: number }>()
      .node("list", ({ inputs }) => [inputs.base, inputs.base + 1])
      .map("sq", "list", ({ item }) => item * item)
      .node(
        "flaky",
        () => {
          flaky += 1;
          if (flaky === 1) throw new Error("once");
          return "ok";
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 1, jitter: false } } },
      )
      .node("w1", () => 1)
      .node("w2", () => 2)
      .node("w3", () => 3)
      .output((o) => ({ sq: o.sq, flaky: o.flaky }))
      .build();
    const rec = recordingExecutor(g);
    const out = await runAsync(g, { base: 3 }, { runId: "hook-1", store: new MemoryStore(), executor: rec.executor, maxConcurrency: 2 });
    expect(out).toEqual({ sq: [9, 16], flaky: "ok" });
    expect(rec.max()).toBeLessThanOrEqual(2);
    expect(rec.seen.find((a) => a.activationId === "sq[1]")).toMatchObject({
      runId: "hook-1",
      graphName: "hooked",
      fingerprint: g.fingerprint,
      nodeId: "sq",
      attempt: 1,
      inputs: { base: 3 },
      deps: {},
      item: 4,
      index: 1,
    });
    expect(rec.seen.filter((a) => a.nodeId === "flaky").map((a) => a.attempt)).toEqual([1, 2]);
    expect(rec.seen.find((a) => a.nodeId === "list")).not.toHaveProperty("index");
    expect(rec.stopped).toEqual(["hook-1"]);
  });

  it("runs the steps of a graphFn in this process", async () => {
    const rec = recordingExecutor({ node: () => undefined });
    const fn = graphFn("dyn", async (inputs: { n: number }, ctx) => ctx.step("double", () => inputs.n * 2));
    expect(await runAsync(fn, { n: 4 }, { store: new MemoryStore(), executor: rec.executor })).toBe(8);
    expect(rec.seen).toEqual([]);
  });

  it("validates the executor and takeover options", () => {
    const g = graph("v")
      .node("a", () => 1)
      .build();
    expect(() => run(g, undefined, { executor: {} as NodeExecutor, store: new MemoryStore() })).toThrow(InvalidOptionError);
    expect(() => run(g, undefined, { takeover: "yes" as never, store: new MemoryStore() })).toThrow(/takeover/);
  });

  it("tells the executor when the run was taken over while it ran", async () => {
    const store = new MemoryStore();
    const g = graph("stolen")
      .node("a", async ({ runId }) => {
        // Another driver takes the run over while this body runs.
        await store.acquireLease(runId, { owner: "thief", pid: 1, host: `elsewhere-${hostname()}`, ttlMs: 60_000, now: Date.now(), takeover: true });
        return 1;
      })
      .build();
    const rec = recordingExecutor(g);
    await runAsync(g, undefined, { runId: "stolen-1", store, executor: rec.executor }).catch(() => undefined);
    expect(rec.stopped).toEqual(["stolen-1 (lease lost)"]);
  });

  it("takes a live lease with takeover: true, and only then", async () => {
    const store = new MemoryStore();
    const g = graph("t")
      .node("a", () => 1)
      .build();
    await store.acquireLease("held", { owner: "remote", pid: 1, host: `elsewhere-${hostname()}`, ttlMs: 3_600_000, now: Date.now() });
    await expect(runAsync(g, undefined, { runId: "held", store })).rejects.toBeInstanceOf(RunLockedError);
    await expect(runAsync(g, undefined, { runId: "held", store, takeover: true })).resolves.toEqual({ a: 1 });
  });
});
