/**
 * Runner audit 2: divergences of waits and run options from their docs
 * (docs/waits.md "Timeouts", "Validation and idempotency"; docs/runs.md).
 * Each case failed on the code before its fix.
 */
import { describe, expect, it } from "vitest";
import {
  GraphHasPendingWaits,
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  NodeFailedError,
  WaitAlreadyResolvedError,
  getRun,
  graph,
  resolveWait,
  run,
  runAsync,
  type Clock,
} from "../src/index.js";
import { deferred, nextEvent, rejection } from "./support/async.js";
import { replayingWait } from "./support/replaying-wait.js";

/** "review" waits for `key` with a 1 s timeout, one attempt. */
function timedGraph(key: string) {
  return graph("timed-wait")
    .node("review", ({ waitFor }) => waitFor<string>(key, { timeoutMs: 1_000 }), { retry: { maxAttempts: 1 } })
    .build();
}

describe("an event written to a stored run is compared with the wait's deadline when taken", () => {
  it("an event delivered after the deadline passed does not resolve the wait: the node fails with WaitTimeoutError", async () => {
    const store = new MemoryStore();
    const g = timedGraph("k");
    const first = await rejection(runAsync(g, undefined, { store, runId: "late", clock: new ManualClock(0) }));
    expect((first as GraphHasPendingWaits).waits).toEqual([{ key: "k", nodeId: "review", since: 0, deadline: 1_000 }]);
    await resolveWait("late", "k", "too late", { store }); // stamped with Date.now(), far past 1_000
    const error = await rejection(runAsync(g, undefined, { store, runId: "late", clock: new ManualClock(6_000) }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as NodeFailedError).cause).toMatchObject({ code: "WAIT_TIMEOUT", key: "k", deadline: 1_000 });
    const saved = await getRun("late", { store });
    expect(saved.status).toBe("failed");
    expect(saved.nodes.find((n) => n.id === "review")?.waits?.k?.resolved).toBeUndefined();
  });

  it("an event delivered before the deadline is taken even when the run resumes after it", async () => {
    const store = new MemoryStore();
    const g = timedGraph("k");
    await rejection(runAsync(g, undefined, { store, runId: "in-time", clock: new ManualClock(0) }));
    await resolveWait("in-time", "k", "in time", { store, clock: new ManualClock(999) });
    await expect(runAsync(g, undefined, { store, runId: "in-time", clock: new ManualClock(6_000) })).resolves.toEqual({ review: "in time" });
  });

  it("an event stamped on another clock than the run's is taken while the run's clock says the deadline has not passed", async () => {
    const store = new MemoryStore();
    const g = timedGraph("k");
    await rejection(runAsync(g, undefined, { store, runId: "clocks", clock: new ManualClock(0) }));
    await resolveWait("clocks", "k", "wall clock", { store }); // stamped with Date.now(), far past 1_000
    await expect(runAsync(g, undefined, { store, runId: "clocks", clock: new ManualClock(500) })).resolves.toEqual({ review: "wall clock" });
  });
});

describe("run options that are not what they say are InvalidOptionError naming them", () => {
  const g = graph("opts")
    .node("a", () => 1)
    .build();
  const cases: [string, Record<string, unknown>][] = [
    ["clock", { clock: null }],
    ["clock", { clock: 5 }],
    ["clock", { clock: "system" }],
    ["leaseTtlMs", { leaseTtlMs: 1e12 }],
    ["leaseTtlMs", { leaseTtlMs: Infinity }],
  ];
  it("options: an array is not an options object", async () => {
    const thrown = await rejection(runAsync(g, undefined, [] as never));
    expect(thrown).toBeInstanceOf(InvalidOptionError);
    expect((thrown as Error).message).toContain("options");
  });
  for (const [name, options] of cases) {
    it(`${name}: ${String(Object.values(options)[0])}`, async () => {
      const store = new MemoryStore();
      const thrown = await rejection(runAsync(g, undefined, { store, ...options }));
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as Error).message).toContain(name);
      expect(() => run(g, undefined, { store, ...options })).toThrow(InvalidOptionError);
    });
  }
});

describe("wait keys", () => {
  it('waitFor refuses a key starting with "$child:" (resolveWait could never resolve it)', async () => {
    const g = graph("child-key")
      .node("w", ({ waitFor }) => waitFor("$child:x"), { retry: { maxAttempts: 1 } })
      .build();
    const error = await rejection(runAsync(g, undefined, { store: new MemoryStore() }));
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as NodeFailedError).cause).toBeInstanceOf(InvalidOptionError);
    expect(String((error as NodeFailedError).cause)).toContain("$child:");
  });

  it("a child run that waits still parks its parent on the internal $child: wait", async () => {
    const store = new MemoryStore();
    const child = graph("kid")
      .node("k", ({ waitFor }) => waitFor<string>("kid-key"))
      .build();
    const parent = graph("parent")
      .node("p", ({ run }) => run(child, undefined, { key: "one" }))
      .build();
    const error = await rejection(runAsync(parent, undefined, { store, runId: "par" }));
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    const [wait] = (error as GraphHasPendingWaits).waits;
    expect(wait?.key).toBe("kid-key");
    await resolveWait(wait?.runId ?? "", "kid-key", "answer", { store });
    await expect(runAsync(parent, undefined, { store, runId: "par" })).resolves.toEqual({ p: { k: "answer" } });
  });
});

describe("a later delivery replaces an inbox event not yet taken", () => {
  it("a delivery that reaches a resumed node still replaying replaces the older event in the inbox", async () => {
    const store = new MemoryStore();
    const { graph: g, resume, release } = replayingWait("replace-held");
    expect(await rejection(runAsync(g, undefined, { store, runId: "rh" }))).toBeInstanceOf(GraphHasPendingWaits);
    await resolveWait("rh", "approval", "first", { store });
    resume();
    const handle = run(g, undefined, { store, runId: "rh" });
    await nextEvent(handle, "node:start");
    const delivered = resolveWait("rh", "approval", "second", { store });
    release();
    await delivered;
    await expect(handle.result()).resolves.toEqual({ review: "second" });
    // Taken now: a third one is refused.
    await expect(resolveWait("rh", "approval", "third", { store })).rejects.toBeInstanceOf(WaitAlreadyResolvedError);
  });

  it("a held delivery its wait's schema refuses leaves the older inbox event to be taken", async () => {
    const store = new MemoryStore();
    const schema = {
      parse(value: unknown): string {
        if (typeof value !== "string") throw new Error("not a string");
        return value;
      },
    };
    const { graph: g, resume, release } = replayingWait("replace-held-bad", schema);
    expect(await rejection(runAsync(g, undefined, { store, runId: "rhb" }))).toBeInstanceOf(GraphHasPendingWaits);
    await resolveWait("rhb", "approval", "first", { store });
    resume();
    const handle = run(g, undefined, { store, runId: "rhb" });
    await nextEvent(handle, "node:start");
    const delivered = rejection(resolveWait("rhb", "approval", 42, { store }));
    release();
    expect(await delivered).toMatchObject({ code: "INPUT_VALIDATION" });
    await expect(handle.result()).resolves.toEqual({ review: "first" });
  });
});

describe("timers longer than a Node timer can hold", () => {
  it("a wait of 30 days never asks the clock for a delay above 2^31 - 1 ms (Node fires those at once)", async () => {
    const manual = new ManualClock(0);
    const asked: number[] = [];
    const clock: Clock = {
      now: () => manual.now(),
      setTimeout: (fn, ms, label) => {
        asked.push(ms);
        return manual.setTimeout(fn, ms, label);
      },
      clearTimeout: (h) => manual.clearTimeout(h),
    };
    const gate = deferred();
    const g = graph("long-wait")
      .node("hold", async () => {
        await gate.promise;
        return 1;
      })
      .node("review", ({ waitFor }) => waitFor<string>("month", { timeoutMs: 30 * 86_400_000 }), { retry: { maxAttempts: 1 } })
      .build();
    const store = new MemoryStore();
    const handle = run(g, undefined, { store, runId: "month", clock, leaseTtlMs: 2_000_000_000 });
    await nextEvent(handle, "node:wait");
    expect(asked.every((ms) => ms <= 2_147_483_647)).toBe(true);
    // The timer still fires at the deadline, not before.
    await manual.advance(29 * 86_400_000);
    expect(handle.status).toBe("running");
    await manual.advance(86_400_000);
    gate.resolve();
    const error = await rejection(handle.result());
    expect((error as NodeFailedError).cause).toMatchObject({ code: "WAIT_TIMEOUT", deadline: 30 * 86_400_000 });
  });
});
