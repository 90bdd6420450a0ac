/**
 * Nested runs (issue 18 item 1): `ctx.run(childGraph, inputs, { key })`
 * in nodes and graphFn bodies; the child is a durable run of its own,
 * linked to its parent; resume, waits and cancellation across the pair.
 * (Resume after SIGKILL: nested-runs-crash.test.ts.)
 */
import { describe, expect, it } from "vitest";
import {
  GraphHasPendingWaits,
  InvalidOptionError,
  MemoryStore,
  NodeFailedError,
  RunCancelledError,
  cancelRun,
  childRunId,
  getRun,
  graph,
  graphFn,
  listRuns,
  resolveWait,
  run,
  runAsync,
} from "../src/index.js";
import { rejection, until } from "./support/async.js";

/** A child graph that doubles `n`, counting its calls. */
function doubler(calls: { n: number }) {
  return graph("double")
    .input<{ n: number }>()
    .node("twice", ({ inputs }) => {
      calls.n += 1;
      return inputs.n * 2;
    })
    .output(({ twice }) => twice)
    .build();
}

describe("ctx.run in a node", () => {
  it("returns the child's outputs; the child is a run of its own, linked both ways", async () => {
    const store = new MemoryStore();
    const calls = { n: 0 };
    const child = doubler(calls);
    const parent = graph("parent")
      .node("spawn", ({ run }) => run<number>(child, { n: 21 }, { key: "k1" }))
      .build();
    expect(await runAsync(parent, undefined, { runId: "p1", store })).toEqual({ spawn: 42 });
    const childId = childRunId("p1", "spawn", "k1");
    expect(childId).toBe("p1@spawn@k1");
    const details = await getRun(childId, { store });
    expect(details).toMatchObject({ graphName: "double", status: "succeeded", outputs: 42, parentRunId: "p1", inputs: { n: 21 } });
    const parentDetails = await getRun("p1", { store });
    expect(parentDetails.parentRunId).toBeUndefined();
    expect(parentDetails.children?.map((c) => [c.runId, c.status, c.parentRunId])).toEqual([[childId, "succeeded", "p1"]]);
    expect((await listRuns({ store })).map((r) => r.runId).sort()).toEqual([childId, "p1"].sort());
  });

  it("on resume, a finished child is not run again", async () => {
    const store = new MemoryStore();
    const calls = { n: 0 };
    const child = doubler(calls);
    let failLater = true;
    const parent = graph("parent")
      .node("spawn", async ({ run }) => {
        const out = await run<number>(child, { n: 1 }, { key: "once" });
        if (failLater) throw new Error("after the child");
        return out;
      })
      .build();
    expect(await rejection(runAsync(parent, undefined, { runId: "p2", store, retry: { maxAttempts: 1 } }))).toBeInstanceOf(NodeFailedError);
    expect(calls.n).toBe(1);
    failLater = false;
    expect(await runAsync(parent, undefined, { runId: "p2", store })).toEqual({ spawn: 2 });
    expect(calls.n).toBe(1);
  });

  it("an unfinished child is resumed, not restarted: its succeeded nodes are kept", async () => {
    const store = new MemoryStore();
    const log: string[] = [];
    let flaky = true;
    const child = graph("two-steps")
      .node("a", () => {
        log.push("a");
        return 1;
      })
      .node(
        "b",
        ({ deps }) => {
          log.push("b");
          if (flaky) throw new Error("b is flaky");
          return deps.a + 1;
        },
        { after: ["a"] },
      )
      .build();
    const parent = graph("parent")
      .node("spawn", ({ run }) => run(child, undefined, { key: "c" }))
      .build();
    expect(await rejection(runAsync(parent, undefined, { runId: "p3", store, retry: { maxAttempts: 1 } }))).toBeInstanceOf(NodeFailedError);
    expect((await getRun("p3@spawn@c", { store })).status).toBe("failed");
    flaky = false;
    expect(await runAsync(parent, undefined, { runId: "p3", store })).toEqual({ spawn: { a: 1, b: 2 } });
    expect(log).toEqual(["a", "b", "b"]);
  });

  it("a child's waits surface on the parent; resolveWait on the child's id and a resume of the parent finish both", async () => {
    const store = new MemoryStore();
    const approval = graph("approval")
      .node("ask", ({ waitFor }) => waitFor<string>("approve"))
      .build();
    const parent = graph("parent")
      .node("other", () => "done")
      .node("spawn", ({ run }) => run(approval, undefined, { key: "review" }))
      .build();
    const error = await rejection(runAsync(parent, undefined, { runId: "p4", store }));
    expect(error).toBeInstanceOf(GraphHasPendingWaits);
    const childId = "p4@spawn@review";
    expect((error as GraphHasPendingWaits).waits).toEqual([expect.objectContaining({ key: "approve", nodeId: "ask", runId: childId })]);
    expect((error as Error).message).toContain(`"approve" (of child run "${childId}")`);
    const parentDetails = await getRun("p4", { store });
    expect(parentDetails.status).toBe("waiting");
    // getRun shows the waits a caller must resolve: the child's, with its run id (not the parent's internal $child: wait).
    expect(parentDetails.waits).toEqual([expect.objectContaining({ key: "approve", nodeId: "ask", runId: childId })]);
    expect((await getRun(childId, { store })).status).toBe("waiting");
    // The parent's own wait on the child is not for callers: resolving it is refused, naming the child.
    const refused = await rejection(resolveWait("p4", `$child:${childId}`, null, { store }));
    expect(refused).toBeInstanceOf(InvalidOptionError);
    expect((refused as Error).message).toContain(childId);
    await resolveWait(childId, "approve", "yes", { store });
    expect(await runAsync(parent, undefined, { runId: "p4", store })).toEqual({ other: "done", spawn: { ask: "yes" } });
    expect((await getRun(childId, { store })).status).toBe("succeeded");
  });

  it("cancelling the parent cancels a running child: the child's node sees its signal abort", async () => {
    const store = new MemoryStore();
    let aborted = false;
    let started = false;
    const child = graph("held")
      .node("hold", ({ signal }) => {
        started = true;
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () => {
            aborted = true;
            reject(signal.reason as Error);
          }),
        );
      })
      .build();
    const parent = graph("parent")
      .node("spawn", ({ run }) => run(child, undefined, { key: "x" }))
      .build();
    const handle = run(parent, undefined, { runId: "p5", store });
    await until(() => started, "the child's node to start");
    handle.cancel("stop everything");
    expect(await rejection(handle.result())).toBeInstanceOf(RunCancelledError);
    expect(aborted).toBe(true);
    expect((await getRun("p5@spawn@x", { store })).status).toBe("cancelled");
  });

  it("cancelRun on a waiting parent cancels its waiting child too", async () => {
    const store = new MemoryStore();
    const approval = graph("approval")
      .node("ask", ({ waitFor }) => waitFor("approve"))
      .build();
    const parent = graph("parent")
      .node("spawn", ({ run }) => run(approval, undefined, { key: "r" }))
      .build();
    await rejection(runAsync(parent, undefined, { runId: "p6", store }));
    const result = await cancelRun("p6", { store, reason: "no longer needed" });
    expect(result).toMatchObject({ status: "cancelled", by: "store", children: [{ runId: "p6@spawn@r", status: "cancelled", by: "store" }] });
    expect((await getRun("p6@spawn@r", { store })).error?.message).toContain("no longer needed");
  });

  it("refuses bad options: the node fails with InvalidOptionError as its cause", async () => {
    const store = new MemoryStore();
    const child = doubler({ n: 0 });
    for (const options of [undefined, {}, { key: "" }, { key: "a#b" }, { key: "k", runId: "x" }]) {
      const parent = graph("parent")
        .node("spawn", ({ run }) => run(child, { n: 1 }, options as never))
        .build();
      const error = await rejection(runAsync(parent, undefined, { store, retry: { maxAttempts: 1 } }));
      expect(error).toBeInstanceOf(NodeFailedError);
      expect((error as Error).cause).toBeInstanceOf(InvalidOptionError);
    }
  });

  it("children of map elements and of two keys get ids of their own", async () => {
    const store = new MemoryStore();
    const child = doubler({ n: 0 });
    const parent = graph("parent")
      .node("list", () => [1, 2])
      .map("each", "list", ({ item, run }) => run<number>(child, { n: item }, { key: "d" }))
      .build();
    expect(await runAsync(parent, undefined, { runId: "p7", store })).toMatchObject({ each: [2, 4] });
    const ids = ((await getRun("p7", { store })).children ?? []).map((c) => c.runId).sort();
    expect(ids).toEqual([childRunId("p7", "each[0]", "d"), childRunId("p7", "each[1]", "d")].sort());
  });
});

describe("ctx.run in a graphFn body", () => {
  it("runs the child in a step run:<key>; on replay the child's outputs come from the journal", async () => {
    const store = new MemoryStore();
    const calls = { n: 0 };
    const child = doubler(calls);
    let fail = true;
    const body = graphFn("fn-parent", async (inputs: { n: number }, { run, step }) => {
      const doubled = await run<number>(child, { n: inputs.n }, { key: "first" });
      return step("finish", () => {
        if (fail) throw new Error("not yet");
        return doubled + 1;
      });
    });
    expect(await rejection(runAsync(body, { n: 5 }, { runId: "gf1", store, retry: { maxAttempts: 1 } }))).toBeInstanceOf(NodeFailedError);
    fail = false;
    expect(await runAsync(body, undefined, { runId: "gf1", store })).toBe(11);
    expect(calls.n).toBe(1);
    const details = await getRun("gf1", { store });
    expect(details.nodes.map((n) => n.id)).toEqual(["run:first", "finish"]);
    expect(details.children?.map((c) => c.runId)).toEqual([childRunId("gf1", "run:first", "first")]);
  });
});
