/**
 * How many task runs a stage runner drives at once (`sweep-window.ts`):
 * slots in batch order, at most `windowSize(maxConcurrency)` runs in
 * flight (not the whole batch), retry backoffs holding no slot, and the
 * store calls a sweep makes per task (one load to plan it, one by its run);
 * and a task list too long to spread into a call's arguments.
 */
import { describe, expect, it } from "vitest";
import { defineWorkflow, ManualClock, MemoryStore, MemoryTaskSource, StageRunner, type RunStore } from "../src/index.js";
import { until } from "./support/async.js";
import { RunWindow, windowSize, type WindowSlot } from "../src/stages/sweep-window.js";

const twoAgents = defineWorkflow({
  name: "two-agents",
  stages: [
    { id: "a", kind: "agent", pathways: { next: "b" } },
    { id: "b", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

/** A MemoryStore that counts its calls and the runs whose lease is held at once. */
function countingStore(): { store: RunStore; calls: Map<string, number>; maxLeased: () => number } {
  const inner = new MemoryStore();
  const calls = new Map<string, number>();
  let leased = 0;
  let maxLeased = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function") return value;
      const name = String(prop);
      return async (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (name === "acquireLease") maxLeased = Math.max(maxLeased, ++leased);
        if (name === "releaseLease") leased--;
        return out;
      };
    },
  }) as RunStore;
  return { store, calls, maxLeased: () => maxLeased };
}

describe("RunWindow", () => {
  it("grants slots in the order asked, at most size at once; a resting slot frees its place and wakes without waiting", async () => {
    const window = new RunWindow(2);
    const order: string[] = [];
    const take = (name: string): Promise<WindowSlot> =>
      Promise.resolve(window.enter()).then((slot) => {
        order.push(name);
        return slot;
      });
    const a = take("a");
    const b = take("b");
    const c = take("c");
    const d = take("d");
    const [slotA, slotB] = await Promise.all([a, b]);
    await Promise.resolve();
    expect(order).toEqual(["a", "b"]);
    expect(window.held).toBe(2);

    slotA.rest(); // a waits out a backoff: c gets its place
    const slotC = await c;
    expect(order).toEqual(["a", "b", "c"]);
    slotA.wake(); // a's next attempt starts at once, beyond the window
    expect(window.held).toBe(3);

    slotB.leave(); // held 2: still full, d waits
    await Promise.resolve();
    expect(order).toEqual(["a", "b", "c"]);
    slotA.leave();
    const slotD = await d;
    expect(order).toEqual(["a", "b", "c", "d"]);
    slotA.leave(); // given back once only
    expect(window.held).toBe(2);
    slotC.rest();
    slotC.leave(); // rested, then ended: nothing given back twice
    slotD.leave();
    expect(window.held).toBe(0);
  });

  it("sizes the window at four runs per agent call slot, at least 32", () => {
    expect(windowSize(1)).toBe(32);
    expect(windowSize(8)).toBe(32);
    expect(windowSize(64)).toBe(256);
    expect(windowSize(Infinity)).toBe(Infinity);
  });
});

describe("task runs in flight", () => {
  it("drives at most windowSize(maxConcurrency) task runs at once, not the whole batch", async () => {
    const { store, maxLeased } = countingStore();
    const runner = new StageRunner(twoAgents, { store });
    runner.stage("a", async () => "next");
    runner.stage("b", async () => "done");
    const tasks = Array.from({ length: 200 }, (_, i) => ({ id: `t${i}` }));
    const report = await runner.runAsync({ tasks, runId: "w", batchSize: 200, maxConcurrency: 2 });
    expect(report.completed).toBe(200);
    expect(maxLeased()).toBeGreaterThan(1);
    expect(maxLeased()).toBeLessThanOrEqual(windowSize(2));
  });

  it("a task waiting out a retry backoff holds no slot: the tasks behind it run meanwhile", async () => {
    const clock = new ManualClock(1_000);
    const runner = new StageRunner(twoAgents, { store: new MemoryStore(), clock, backoff: { initialMs: 60_000, factor: 1, jitter: false } });
    let secondAttempts = 0;
    const ended = new Set<string>();
    runner.stage("a", async (task, { attempt }) => {
      if (task.data.flaky === true) {
        if (attempt === 1) throw new Error("flaky");
        secondAttempts++;
      }
      return "next";
    });
    runner.stage("b", async () => "done");
    runner.events.on("task:end", (e) => ended.add(e.task.taskId));
    // A window's worth of flaky tasks first (maxConcurrency 1: 32 slots), then one more task.
    const flaky = Array.from({ length: windowSize(1) }, (_, i) => ({ id: `f${i}`, data: { flaky: true } }));
    const running = runner.runAsync({ tasks: [...flaky, { id: "last" }], runId: "w", maxConcurrency: 1 });
    let done = false;
    void running.then(() => (done = true));
    // The clock stands still: every flaky task waits out its backoff, and the last task runs to its end meanwhile.
    await until(() => ended.has("last"), "the last task to end while the flaky ones back off", 100_000);
    expect(secondAttempts).toBe(0);
    for (let i = 0; i < 100 && !done; i++) await clock.advance(60_000);
    const report = await running;
    expect(report.completed).toBe(flaky.length + 1);
    expect(secondAttempts).toBe(flaky.length);
  });

  it("a sweep loads each task's run twice (to plan it, and by its run), and lists nothing", async () => {
    const { store, calls } = countingStore();
    const runner = new StageRunner(twoAgents, { store });
    runner.stage("a", async () => "next");
    runner.stage("b", async () => "done");
    const tasks = Array.from({ length: 50 }, (_, i) => ({ id: `t${i}` }));
    await runner.runAsync({ tasks, runId: "w" });
    expect(calls.get("load")).toBe(100);
    expect(calls.get("list")).toBeUndefined();
    expect(calls.get("readLease")).toBeUndefined();
    calls.clear();
    // A second call finds every task completed: one load each, no run.
    const again = await runner.runAsync({ tasks, runId: "w" });
    expect(again.completed).toBe(50);
    expect(calls.get("load")).toBe(50);
    expect(calls.get("acquireLease")).toBeUndefined();
  });
});

describe("a long task list", () => {
  it("a MemoryTaskSource takes 300,000 tasks (not spread into arguments: no stack overflow)", () => {
    const tasks = Array.from({ length: 300_000 }, (_, i) => ({ id: `t${i}` }));
    expect(new MemoryTaskSource(tasks).tasks()).toHaveLength(300_000);
  });
});
