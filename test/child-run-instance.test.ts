/**
 * A run deleted and started again under the same id never takes the child
 * runs (`ctx.run`) of the deleted run as its own. A child's id is derived
 * from its parent's id, node and key, and `deleteRun` of the parent leaves
 * the children, so before the parent's mark (`RunMeta.instance`, recorded
 * in each child as `parentInstance`):
 * - the new run's `ctx.run` with the same key silently took the deleted
 *   run's child's stored result (or failed on its other inputs);
 * - `getRun(parent).children` listed the deleted run's children;
 * - cancelling the new run cancelled the deleted run's unfinished children.
 */
import { describe, expect, it } from "vitest";
import { cancelRun, deleteRun, getRun, graph, NodeFailedError, resolveWait, runAsync, StaleChildRunError } from "../src/index.js";
import { rejection } from "./support/async.js";
import { everyStore } from "./support/every-store.js";

/** Bodies run by the child graph, by its input. */
const ran: number[] = [];

const child = graph("instance-child")
  .input<{ v: number }>()
  .node("double", ({ inputs }) => {
    ran.push(inputs.v);
    return inputs.v * 2;
  })
  .output((o) => o.double)
  .build();

/** A parent whose node runs `child` with the parent's input, under key "k". */
const parent = graph("instance-parent")
  .input<{ v: number }>()
  .node("spawn", ({ run, inputs }) => run(child, { v: inputs.v }, { key: "k" }))
  .output((o) => o.spawn)
  .build();

/** A child that waits for an event, and a parent that starts it. */
const waitingChild = graph("instance-waiting-child")
  .node("hold", ({ waitFor }) => waitFor<number>("go"))
  .build();
const waitingParent = graph("instance-waiting-parent")
  .node("spawn", ({ run }) => run(waitingChild, undefined, { key: "w" }))
  .build();

const stores = everyStore("child-instance");

describe.each(stores)("child runs of a run deleted and started again under its id (%s)", (_name, makeStore) => {
  it("are never taken as the new run's: ctx.run fails with StaleChildRunError, and runs once the stale child is deleted", async () => {
    const store = makeStore();
    expect(await runAsync(parent, { v: 1 }, { runId: "p1", store })).toBe(2);
    const childId = "p1@spawn@k";
    const first = await getRun(childId, { store });
    expect(first.parentRunId).toBe("p1");
    expect(first.parentInstance).toBe((await getRun("p1", { store })).instance);

    expect(await deleteRun("p1", { store })).toBe(true);
    ran.length = 0;
    // The same inputs: before the mark, the deleted run's child's stored 2 came back, with no body run.
    const error = await rejection(runAsync(parent, { v: 1 }, { runId: "p1", store, retry: { maxAttempts: 1 } }));
    expect(error).toBeInstanceOf(NodeFailedError);
    const cause = (error as NodeFailedError).cause;
    expect(cause).toBeInstanceOf(StaleChildRunError);
    expect(cause).toMatchObject({ code: "STALE_CHILD_RUN", runId: childId, parentRunId: "p1" });
    expect((cause as Error).message).toContain(`deleteRun("${childId}")`);
    expect(ran).toEqual([]);
    expect((await getRun(childId, { store })).status).toBe("succeeded"); // left as it was
    expect((await getRun("p1", { store })).children).toEqual([]);

    // What the message says to do.
    expect(await deleteRun(childId, { store })).toBe(true);
    expect(await runAsync(parent, undefined, { runId: "p1", store })).toBe(2);
    expect(ran).toEqual([1]);
    const children = (await getRun("p1", { store })).children!;
    expect(children.map((c) => c.runId)).toEqual([childId]);
    expect(children[0]!.parentInstance).toBe((await getRun("p1", { store })).instance);
  });

  it("are not listed as the new run's children, nor cancelled with it", async () => {
    const store = makeStore();
    await expect(runAsync(waitingParent, undefined, { runId: "p2", store })).rejects.toMatchObject({ code: "PENDING_WAITS" });
    const childId = "p2@spawn@w";
    expect((await getRun(childId, { store })).status).toBe("waiting");
    expect(await deleteRun("p2", { store })).toBe(true);

    // A new run of the id that waits itself, with no child yet.
    const waiter = graph("instance-waiter")
      .node("hold", ({ waitFor }) => waitFor<number>("own"))
      .build();
    await expect(runAsync(waiter, undefined, { runId: "p2", store })).rejects.toMatchObject({ code: "PENDING_WAITS" });
    expect((await getRun("p2", { store })).children).toEqual([]);
    const cancelled = await cancelRun("p2", { store });
    expect(cancelled.children).toEqual([]);
    expect((await getRun(childId, { store })).status).toBe("waiting"); // the deleted run's child is left alone
  });

  it("keeps a child its own across a resume: the parent resumed after the child's event finishes it", async () => {
    const store = makeStore();
    await expect(runAsync(waitingParent, undefined, { runId: "p3", store })).rejects.toMatchObject({ code: "PENDING_WAITS" });
    const mark = (await getRun("p3", { store })).instance;
    expect(mark).toMatch(/^[0-9a-f]{12}$/);
    expect((await getRun("p3", { store })).children!.map((c) => c.runId)).toEqual(["p3@spawn@w"]);
    await resolveWait("p3@spawn@w", "go", 5, { store });
    expect(await runAsync(waitingParent, undefined, { runId: "p3", store })).toEqual({ spawn: { hold: 5 } });
    expect((await getRun("p3", { store })).instance).toBe(mark);
  });
});
