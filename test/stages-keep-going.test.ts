/**
 * Keeping a stage runner going, in one process on a MemoryStore: failed
 * tasks retried at later sweeps with the documented backoff and cap
 * (reported failed until they succeed), `maxTasksPerStage` counting the
 * tasks that flow into a stage within the sweep, and failure reports that
 * keep the cause's class and code.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  defineWorkflow,
  ManualClock,
  MemoryStore,
  MemoryTaskSource,
  NodeFailedError,
  runAsync,
  compileWorkflow,
  StageRunner,
  type StageRunReport,
} from "../src/index.js";
import { rejection, until } from "./support/async.js";

const twoAgents = defineWorkflow({
  name: "two-agents",
  stages: [
    { id: "a", kind: "agent", pathways: { next: "b", oops: "b" } },
    { id: "b", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});
const fast = { backoff: { initialMs: 1, factor: 1, jitter: false } } as const;

/** Runs sweeps every 1 s on a manual clock, stopping at the start of sweep `stopAt`; returns the report and the sweep times. */
async function sweepUntil(runner: StageRunner, clock: ManualClock, stopAt: number, options: Partial<Parameters<StageRunner["runAsync"]>[0]> = {}) {
  const controller = new AbortController();
  let ends = 0;
  runner.events.on("sweep:end", () => void ends++);
  runner.events.on("sweep:start", (e) => {
    if (e.sweep === stopAt) controller.abort();
  });
  const done = runner.runAsync({
    tasks: [{ id: "f" }, { id: "ok" }],
    runId: "retry",
    numRetries: 0,
    refreshEveryMs: 1_000,
    signal: controller.signal,
    ...options,
  });
  for (let sweep = 1; sweep < stopAt; sweep++) {
    await until(() => ends === sweep, `sweep ${sweep} to end`);
    await clock.advance(1_000);
  }
  return done;
}

describe("failed tasks at later sweeps", () => {
  it("are retried with a backoff doubling from refreshEveryMs, and reported failed until they succeed", async () => {
    const clock = new ManualClock(1_000);
    const runner = new StageRunner(twoAgents, { store: new MemoryStore(), clock, ...fast });
    const calls: number[] = [];
    runner.stage("a", () => "next");
    runner.stage("b", (task) => {
      if (task.id !== "f") return "done";
      calls.push(clock.now());
      if (calls.length < 4) throw new Error(`flaky ${calls.length}`);
      return "done";
    });
    const stopped = await sweepUntil(runner, clock, 7);
    // Failures at 1000, 2000 and 4000: the waits after them are 1 s, 2 s and 4 s from the sweep that failed.
    expect(calls).toEqual([1_000, 2_000, 4_000]);
    expect(stopped.failed.map((f) => [f.taskId, f.stageId, f.error?.message])).toEqual([["f", "b", expect.stringContaining("flaky 3")]]);
    expect(stopped.completed).toBe(1);

    // A new runAsync call (a restart) retries at once; this time the agent succeeds.
    const clock2 = new ManualClock(10_000);
    const again = new StageRunner(twoAgents, { store: runner.store, clock: clock2, ...fast });
    again.stage("a", () => "next");
    again.stage("b", () => "done");
    const report = await again.runAsync({ tasks: [{ id: "f" }, { id: "ok" }], runId: "retry", numRetries: 0 });
    expect(report).toMatchObject({ completed: 2, failed: [] });
  });

  it("stop after maxRetries retries in one call (the cap), with waits capped at maxMs", async () => {
    const clock = new ManualClock(1_000);
    const runner = new StageRunner(twoAgents, { store: new MemoryStore(), clock, ...fast });
    const calls: number[] = [];
    runner.stage("a", (task) => {
      if (task.id === "f") {
        calls.push(clock.now());
        throw new Error("always");
      }
      return "next";
    });
    runner.stage("b", () => "done");
    const report = await sweepUntil(runner, clock, 9, { retryFailed: { initialMs: 1_000, factor: 10, maxMs: 2_000, maxRetries: 2 } });
    // Waits of 1 s then 2 s (10 s capped at maxMs); after two retries, no more in this call.
    expect(calls).toEqual([1_000, 2_000, 4_000]);
    expect(report.failed.map((f) => f.taskId)).toEqual(["f"]);
  });

  it("retryFailed is checked at the boundary", async () => {
    const runner = new StageRunner(twoAgents, { store: new MemoryStore() }).stage("a", () => "next").stage("b", () => "done");
    for (const bad of [{ factor: 0.5 }, { maxRetries: -1 }, { initialMs: Number.NaN }, { maxMs: "1h" }, { maxRetry: 1 }]) {
      expect((await rejection(runner.runAsync({ tasks: [], retryFailed: bad as never }))) as Error).toMatchObject({ code: "INVALID_OPTION" });
    }
  });
});

describe("maxTasksPerStage", () => {
  it("counts the tasks that flow into a stage from an earlier stage in the same sweep", async () => {
    const store = new MemoryStore();
    // Three tasks wait at b (left there by a runner that serves only a).
    await new StageRunner(twoAgents, { store, serves: ["a"] })
      .stage("a", () => "next")
      .runAsync({ tasks: ["x0", "x1", "x2"].map((id) => ({ id })), runId: "cap" });
    const atB: string[] = [];
    const runner = new StageRunner(twoAgents, { store })
      .stage("a", () => "next")
      .stage("b", (task) => {
        atB.push(task.id);
        return "done";
      });
    const tasks = ["x0", "x1", "x2", "t0", "t1", "t2"].map((id) => ({ id }));
    const first = await runner.runAsync({ tasks, runId: "cap", maxTasksPerStage: 3 });
    // Before: the 3 tasks waiting at b and the 3 new ones flowing in from a would make 6 at b.
    expect(atB).toEqual(["x0", "x1", "x2"]);
    expect(first.tasks.map((t) => [t.taskId, t.stageId, t.state])).toEqual([
      ["x0", "complete", "completed"],
      ["x1", "complete", "completed"],
      ["x2", "complete", "completed"],
      ["t0", "b", "deferred"],
      ["t1", "b", "deferred"],
      ["t2", "b", "deferred"],
    ]);
    expect(first.moves).toEqual({ a: 3, b: 3 });
    const second = await runner.runAsync({ tasks, runId: "cap", maxTasksPerStage: 3 });
    expect(atB).toEqual(["x0", "x1", "x2", "t0", "t1", "t2"]);
    expect(second).toMatchObject({ completed: 6, moves: { b: 3 } });
  });

  it("never lets more than the cap through a stage in a sweep, and every task completes in the end (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 6 }), async (n, cap, early) => {
        const store = new MemoryStore();
        const ids = Array.from({ length: n }, (_, i) => ({ id: `t${i}` }));
        await new StageRunner(twoAgents, { store, serves: ["a"] }).stage("a", () => "next").runAsync({ tasks: ids.slice(0, early), runId: "p" });
        const perSweep = new Map<string, number>();
        let sweep = 0;
        const runner = new StageRunner(twoAgents, { store }).stage("a", () => "next").stage("b", () => "done");
        runner.events.on("task:move", (e) => perSweep.set(`${sweep} ${e.from}`, (perSweep.get(`${sweep} ${e.from}`) ?? 0) + 1));
        let report: StageRunReport | undefined;
        for (sweep = 1; sweep <= 2 * Math.ceil(n / cap) + 1 && report?.completed !== n; sweep++) {
          report = await runner.runAsync({ tasks: ids, runId: "p", maxTasksPerStage: cap });
        }
        expect(report?.completed).toBe(n);
        for (const count of perSweep.values()) expect(count).toBeLessThanOrEqual(cap);
      }),
      { numRuns: 40 },
    );
  });
});

describe("failure reports", () => {
  it("keep the cause's class and code: an unknown pathway is NODE_FAILED caused by UNKNOWN_PATHWAY", async () => {
    const store = new MemoryStore();
    const runner = new StageRunner(twoAgents, { store, ...fast }).stage("a", () => "nxet").stage("b", () => "done");
    const report = await runner.runAsync({ tasks: [{ id: "t1" }], runId: "codes" });
    expect(report.failed[0]?.error).toMatchObject({
      name: "NodeFailedError",
      code: "NODE_FAILED",
      cause: { name: "UnknownPathwayError", code: "UNKNOWN_PATHWAY" },
    });
    expect(report.failed[0]?.error?.cause?.message).toContain('"nxet"');
    // Read back from the store (another process's view): the same.
    expect((await runner.task("codes", "t1")).error?.cause).toMatchObject({ name: "UnknownPathwayError", code: "UNKNOWN_PATHWAY" });
    // NodeFailedError itself.
    const err = await rejection(runAsync(compileWorkflow(twoAgents, { a: () => "nope", b: () => "done" }), { id: "t" }, { store, runId: "direct" }));
    expect(err).toBeInstanceOf(NodeFailedError);
    expect(err).toMatchObject({ code: "NODE_FAILED", causeName: "UnknownPathwayError", causeCode: "UNKNOWN_PATHWAY" });
    const plain = await rejection(
      runAsync(
        compileWorkflow(twoAgents, { a: () => Promise.reject(new Error("boom")), b: () => "done" }),
        { id: "t" },
        { store, runId: "plain", retry: { maxAttempts: 1 } },
      ),
    );
    expect(plain).toMatchObject({ causeName: "Error", causeCode: undefined });
    const source = new MemoryTaskSource([{ id: "t1" }]);
    await runner.runAsync({ tasks: source, runId: "codes" });
    expect(source.tasks()[0]).toMatchObject({ stageId: "a" });
    expect((source.tasks()[0] as { error?: string } | undefined)?.error).toContain("NodeFailedError");
  });
});
