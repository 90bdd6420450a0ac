/**
 * Audit: a run's deadline and its child runs. A parent resumed after its
 * deadline passed is saved `cancelled` without running; its unfinished
 * child runs must be cancelled too (as `cancelRun` and a live deadline do),
 * not left `waiting` for ever.
 */
import { describe, expect, it } from "vitest";
import { GraphHasPendingWaits, ManualClock, MemoryStore, RunTimeoutError, getRun, graph, run, runAsync } from "../src/index.js";
import { deferred, rejection, until } from "./support/async.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-audit-deadline-");

describe("a deadline and child runs", () => {
  it("a parent resumed after its deadline cancels its waiting child", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(0);
    const approval = graph("approval")
      .node("ask", ({ waitFor }) => waitFor<string>("approve"))
      .build();
    const parent = graph("parent")
      .node("spawn", ({ run }) => run(approval, undefined, { key: "r" }))
      .build();
    expect(await rejection(runAsync(parent, undefined, { runId: "dl-p", store, clock, timeoutMs: 1_000 }))).toBeInstanceOf(GraphHasPendingWaits);
    expect((await getRun("dl-p@spawn@r", { store })).status).toBe("waiting");
    await clock.advance(1_000);
    expect(await rejection(runAsync(parent, undefined, { runId: "dl-p", store, clock }))).toBeInstanceOf(RunTimeoutError);
    expect((await getRun("dl-p", { store })).status).toBe("cancelled");
    const child = await getRun("dl-p@spawn@r", { store });
    expect(child.status).toBe("cancelled");
    expect(child.error?.message).toContain("dl-p");
  });

  it("the deadline is on disk from the run's start (a crash while running keeps it)", async () => {
    const dir = tempDir();
    const gate = deferred<number>();
    let started = false;
    const g = graph("g")
      .node("a", () => {
        started = true;
        return gate.promise;
      })
      .build();
    const handle = run(g, undefined, { runId: "dl-disk", store: lowdb(dir), clock: new ManualClock(1_000), timeoutMs: 5_000 });
    await until(() => started, "the node to start");
    // Read by another store object, as another process would after a crash.
    expect((await getRun("dl-disk", { store: lowdb(dir) })).deadline).toBe(6_000);
    gate.resolve(1);
    expect(await handle.result()).toEqual({ a: 1 });
  });
});
