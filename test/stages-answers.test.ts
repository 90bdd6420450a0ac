/**
 * How an agent's answer is saved. An answer with a pathway is saved with
 * the move itself: the stage's success record holds the pathway and the
 * task's data, and no record of the answer is written before it (one
 * write per move). An answer that keeps the task (no pathway) is
 * journaled before the task waits, so a later sweep, in this process or
 * another, does not ask the agent again for it. A run saved in the
 * earlier form (the answer with a pathway journaled on its own, the
 * process gone before the move was saved) resumes by taking that answer:
 * the agent is not asked again.
 */
import { describe, expect, it } from "vitest";
import { defineWorkflow, getRun, MemoryStore, StageRunner, type RunStore } from "../src/index.js";
import { getNode } from "../src/state/node-table.js";
import type { JournalRecord, NodeRecord } from "../src/state/records.js";

const workflow = defineWorkflow({
  name: "answers",
  stages: [
    { id: "first", kind: "agent", pathways: { next: "second" } },
    { id: "second", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

/** A MemoryStore that keeps every node record appended, per run, in order. */
function recordingStore(): { store: RunStore; appended: (runId: string) => NodeRecord[] } {
  const store = new MemoryStore();
  const log = new Map<string, NodeRecord[]>();
  const append = store.append.bind(store);
  store.append = (runId, records, ...rest) => {
    for (const r of records) if (r.kind === "node") log.set(runId, [...(log.get(runId) ?? []), r.node]);
    return append(runId, records, ...rest);
  };
  return { store, appended: (runId) => log.get(runId) ?? [] };
}

describe("an agent's answer", () => {
  it("with a pathway is saved with the move, in one record; one that keeps the task is journaled before the task waits", async () => {
    const { store, appended } = recordingStore();
    let tries = 0;
    const runner = new StageRunner(workflow, { store });
    runner.stage("first", async () => ({ pathway: "next", label: "cat" }));
    // Kept at the first sweep (with an update), moved at the second.
    runner.stage("second", async () => (++tries === 1 ? { checked: 1 } : { pathway: "done", checked: 2 }));
    const first = await runner.runAsync({ tasks: [{ id: "t1", data: { n: 1 } }], runId: "a" });
    expect(first.tasks[0]).toMatchObject({ stageId: "second", state: "staying", data: { n: 1, label: "cat", checked: 1 } });
    const id = StageRunner.taskRunId("a", "t1");

    // The move out of "first": one record, the success, with the pathway and the data.
    const firstRecords = appended(id).filter((r) => r.nodeId === "first");
    expect(firstRecords).toHaveLength(1);
    expect(firstRecords[0]).toMatchObject({ status: "succeeded", route: "next", output: { data: { n: 1, label: "cat" }, pathway: "next" } });
    // The answer that kept the task: journaled (a step) before the task waits.
    const kept = appended(id).filter((r) => r.nodeId === "second");
    expect(kept.find((r) => r.steps?.["agent-1"] !== undefined)?.steps).toEqual({ "agent-1": { updates: { checked: 1 } } });
    expect((await getRun(id, { store })).status).toBe("waiting");

    // A second runner on the same store: the kept answer is replayed, the agent asked once more, at the next key.
    const asked: number[] = [];
    const again = new StageRunner(workflow, { store });
    again.stage("first", async () => {
      throw new Error("first was answered and its move saved: never asked again");
    });
    again.stage("second", async (_task, { visit }) => {
      asked.push(visit);
      return { pathway: "done", checked: 2 };
    });
    const second = await again.runAsync({ tasks: [{ id: "t1", data: { n: 1 } }], runId: "a" });
    expect(asked).toEqual([1]);
    expect(second.tasks[0]).toMatchObject({ stageId: "complete", state: "completed", data: { n: 1, label: "cat", checked: 2 } });
    expect(second.moves).toEqual({ second: 1 });
  });

  it("journaled with its pathway by an earlier version, the move not saved: the resume takes it without asking the agent", async () => {
    const store = new MemoryStore();
    // A run as an earlier version left it when the process died between the answer's record and the move's:
    // made here by keeping the task at "first", then appending the earlier form's records by hand.
    const keeper = new StageRunner(workflow, { store });
    keeper.stage("first", async () => undefined);
    keeper.stage("second", async () => "done");
    await keeper.runAsync({ tasks: [{ id: "t1", data: { n: 1 } }], runId: "old" });
    const id = StageRunner.taskRunId("old", "t1");
    const stored = await store.load(id);
    if (!stored) throw new Error("no stored run");
    const waiting = getNode(stored.state.nodes, "first");
    if (!waiting) throw new Error("no record of first");
    const { waits: _waits, ...rest } = waiting;
    const answered: NodeRecord = { ...rest, status: "running", steps: { "agent-1": { pathway: "next", updates: { label: "old" } } } };
    const records: JournalRecord[] = [
      { kind: "node", seq: stored.seq + 1, node: answered },
      { kind: "run", seq: stored.seq + 2, run: { ...stored.state.meta, status: "running", waits: [] } },
    ];
    await store.append(id, records);

    const runner = new StageRunner(workflow, { store });
    runner.stage("first", async () => {
      throw new Error("its answer was journaled: never asked again");
    });
    runner.stage("second", async () => "done");
    const report = await runner.runAsync({ tasks: [{ id: "t1", data: { n: 1 } }], runId: "old" });
    expect(report.failed).toEqual([]);
    expect(report.tasks[0]).toMatchObject({ stageId: "complete", state: "completed", data: { n: 1, label: "old" } });
    expect(report.moves).toEqual({ first: 1, second: 1 });
  });
});
