/**
 * Audit: reading a run's tasks from a store that also holds other runner
 * runs. Run ids may hold "." and task ids may not, so the runs of runner
 * run "lab.v2" (`lab.v2.<task>`) start with "lab." too: `tasks("lab")` and
 * `tasksAt(stage, { runId: "lab" })` must list the tasks of "lab" only,
 * never fail on another run's task.
 */
import { describe, expect, it } from "vitest";
import { defineWorkflow, MemoryStore, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "audit-query",
  stages: [
    { id: "label", kind: "agent", pathways: { done: "review" } },
    { id: "review", kind: "review", pathways: { approve: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

describe("a run whose id is another run's id and a dot", () => {
  it("does not mix into the other run's tasks, nor make their listing fail", async () => {
    const store = new MemoryStore();
    // A coordinator (no agents): every task is parked at "label", due for a queue.
    const coordinator = new StageRunner(workflow, { store });
    await coordinator.runAsync({ tasks: [{ id: "a1" }, { id: "a2" }], runId: "lab" });
    await coordinator.runAsync({ tasks: [{ id: "b1" }], runId: "lab.v2" });

    expect((await coordinator.tasks("lab")).map((t) => t.taskId)).toEqual(["a1", "a2"]);
    expect((await coordinator.tasks("lab.v2")).map((t) => t.taskId)).toEqual(["b1"]);
    expect((await coordinator.tasksAt("label", { runId: "lab" })).map((t) => t.taskId)).toEqual(["a1", "a2"]);
    expect((await coordinator.tasksAt("label", { runId: "lab.v2" })).map((t) => t.taskId)).toEqual(["b1"]);
  });
});

describe("the tasks command with --json", () => {
  it("prints a task whose data holds a BigInt, instead of failing with error[UNEXPECTED]", async () => {
    const numbers = defineWorkflow({
      name: "audit-query-json",
      stages: [
        { id: "count", kind: "agent", pathways: { done: "complete" } },
        { id: "complete", kind: "final" },
      ],
    });
    const runner = new StageRunner(numbers, { store: new MemoryStore() }).stage("count", async () => ({ pathway: "done", total: 2n ** 70n }));
    await runner.runAsync({ tasks: [{ id: "t1" }], runId: "r1" });
    let out = "";
    let err = "";
    const code = await runner.cli(["tasks", "--run-id", "r1", "--json"], {
      out: { write: (s: string) => (out += s) },
      err: { write: (s: string) => (err += s) },
    });
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject([{ taskId: "t1", data: { total: String(2n ** 70n) } }]);
  });
});
