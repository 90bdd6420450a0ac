/**
 * The run deadline (`timeoutMs`, issue 18 item 2): the run is cancelled
 * with `RunTimeoutError` when it passes, the deadline is stored with the
 * run, and a resume after it fails at once unless it gives a new one.
 */
import { describe, expect, it } from "vitest";
import {
  GraphHasPendingWaits,
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  RunTimeoutError,
  getRun,
  graph,
  resolveWait,
  run,
  runAsync,
} from "../src/index.js";
import { rejection, until } from "./support/async.js";

describe("run deadline (timeoutMs)", () => {
  it("cancels the run when the deadline passes: RunTimeoutError, nodes see their signal abort, saved cancelled", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(1_000);
    let aborted: unknown;
    let started = false;
    const g = graph("slow")
      .node("wait", ({ signal }) => {
        started = true;
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () => {
            aborted = signal.reason;
            reject(signal.reason as Error);
          }),
        );
      })
      .node("after", () => "never", { after: ["wait"] })
      .build();
    const handle = run(g, undefined, { runId: "deadline-1", store, clock, timeoutMs: 5_000 });
    await until(() => started, "the node to start");
    await clock.advance(4_999);
    expect(handle.status).toBe("running");
    await clock.advance(1);
    const error = await rejection(handle.result());
    expect(error).toBeInstanceOf(RunTimeoutError);
    expect((error as RunTimeoutError).code).toBe("RUN_TIMEOUT");
    expect((error as RunTimeoutError).deadline).toBe(6_000);
    expect(aborted).toBeInstanceOf(Error);
    expect(handle.status).toBe("cancelled");
    const stored = await getRun("deadline-1", { store });
    expect(stored.status).toBe("cancelled");
    expect(stored.error?.code).toBe("RUN_TIMEOUT");
    expect(stored.deadline).toBe(6_000);
    expect(stored.nodes.find((n) => n.id === "after")?.status).toBe("pending");
  });

  it("a run that ends in time keeps no timer and succeeds", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(0);
    const g = graph("quick")
      .node("a", () => 1)
      .build();
    await expect(runAsync(g, undefined, { store, clock, timeoutMs: 1_000 })).resolves.toEqual({ a: 1 });
    expect(clock.pendingDelays()).toEqual([]);
  });

  it("the deadline is journaled: a resume after it fails at once unless the caller gives a new one", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(0);
    let calls = 0;
    const g = graph("review")
      .node("ask", ({ waitFor }) => waitFor<string>("ok"))
      .node(
        "ship",
        ({ deps }) => {
          calls += 1;
          return `shipped ${String(deps.ask)}`;
        },
        { after: ["ask"] },
      )
      .build();
    const first = await rejection(runAsync(g, undefined, { runId: "deadline-2", store, clock, timeoutMs: 10_000 }));
    expect(first).toBeInstanceOf(GraphHasPendingWaits);
    expect((await getRun("deadline-2", { store })).deadline).toBe(10_000);

    await resolveWait("deadline-2", "ok", "yes", { store });
    await clock.advance(10_000);
    // No new deadline: the stored one passed, nothing runs, and the run is saved cancelled with the timeout.
    const late = await rejection(runAsync(g, undefined, { runId: "deadline-2", store, clock }));
    expect(late).toBeInstanceOf(RunTimeoutError);
    expect(calls).toBe(0);
    const saved = await getRun("deadline-2", { store });
    expect(saved.status).toBe("cancelled");
    expect(saved.error?.code).toBe("RUN_TIMEOUT");
    // Again without one: still refused at once.
    expect(await rejection(runAsync(g, undefined, { runId: "deadline-2", store, clock }))).toBeInstanceOf(RunTimeoutError);

    // A new deadline, counted from the resume: the run goes on.
    await expect(runAsync(g, undefined, { runId: "deadline-2", store, clock, timeoutMs: 1_000 })).resolves.toEqual({ ask: "yes", ship: "shipped yes" });
    expect(calls).toBe(1);
    expect((await getRun("deadline-2", { store })).deadline).toBe(11_000);
  });

  it("refuses a bad timeoutMs synchronously in run() and through the promise in runAsync()", async () => {
    const g = graph("x")
      .node("a", () => 1)
      .build();
    for (const bad of [0, -1, Number.NaN, Infinity, "1000", 2_147_483_648]) {
      expect(() => run(g, undefined, { store: new MemoryStore(), timeoutMs: bad as number })).toThrow(InvalidOptionError);
    }
  });
});
