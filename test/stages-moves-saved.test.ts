/**
 * A move counts once it is saved, also when the store fails part way: the
 * report's `moves` holds only the moves the store has, though the engine
 * had made more (and marked the next stage as chosen) in memory, and the
 * task's stored report keeps the data of the last saved answer.
 */
import { describe, expect, it } from "vitest";
import { defineWorkflow, MemoryStore, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "moves-saved",
  stages: [
    { id: "first", kind: "agent", pathways: { next: "second" } },
    { id: "second", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

describe("moves and a failing store", () => {
  it("after a failed write: only the moves saved before it count, and the task's report keeps the saved answer's data", async () => {
    const store = new MemoryStore();
    // The store fails every write after the one that saved the move out of "first".
    let moved = false;
    const append = store.append.bind(store);
    store.append = async (runId, records, ...rest) => {
      if (moved) throw new Error("disk full");
      await append(runId, records, ...rest);
      moved = records.some((r) => r.kind === "node" && r.node.nodeId === "first" && r.node.status === "succeeded");
    };
    const runner = new StageRunner(workflow, { store });
    runner.stage("first", async () => ({ pathway: "next", label: "cat" }));
    runner.stage("second", async () => "done");
    const report = await runner.runAsync({ tasks: [{ id: "t1", data: { n: 1 } }], runId: "cut" });
    expect(report.tasks[0]).toMatchObject({ state: "failed" });
    expect(report.moves).toEqual({ first: 1 });
    // As stored: the move out of "first" saved, nothing after it.
    expect(await runner.task("cut", "t1")).toMatchObject({ stageId: "first", state: "interrupted", data: { n: 1, label: "cat" } });
  });
});
