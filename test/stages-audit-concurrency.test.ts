/**
 * Audit: one runner, two `runAsync` calls at once on the same run id (a
 * server that starts a sweep per request). Each call owns its limits
 * (`maxConcurrency`, `maxTasksPerStage`); a task one call drives is `busy`
 * for the other, and the other must not take over the first call's
 * bookkeeping of that task (its agent slots, its cap, its providers).
 */
import { describe, expect, it } from "vitest";
import { defineWorkflow, MemoryStore, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "audit-concurrency",
  stages: [
    { id: "first", kind: "agent", pathways: { next: "second" } },
    { id: "second", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("two runAsync calls of one runner on one run id", () => {
  it("never run more agent calls at once than their two maxConcurrency allow, and move each task once per stage", async () => {
    let running = 0;
    let most = 0;
    const asked = new Map<string, number>();
    const providerCalls = new Map<string, number>();
    const agent = async (task: { id: string; stageId: string }, { deps }: { deps: { tag: string } }): Promise<string> => {
      expect(deps.tag).toBe(task.id);
      running++;
      most = Math.max(most, running);
      asked.set(`${task.id} ${task.stageId}`, (asked.get(`${task.id} ${task.stageId}`) ?? 0) + 1);
      for (let i = 0; i < 3; i++) await turn();
      running--;
      return task.stageId === "first" ? "next" : "done";
    };
    const provideTag = (task: { id: string }): string => {
      providerCalls.set(task.id, (providerCalls.get(task.id) ?? 0) + 1);
      return task.id;
    };
    const runner = new StageRunner(workflow, { store: new MemoryStore() })
      .stage("first", agent, { deps: { tag: provideTag } })
      .stage("second", agent, { deps: { tag: provideTag } });
    const tasks = Array.from({ length: 30 }, (_, i) => ({ id: `t${i}` }));

    const reports = await Promise.all([runner.runAsync({ tasks, runId: "r1", maxConcurrency: 1 }), runner.runAsync({ tasks, runId: "r1", maxConcurrency: 1 })]);
    expect(most).toBeLessThanOrEqual(2);
    expect([...asked.values()].every((n) => n === 1)).toBe(true);
    // Two stages that declare the same provider share its value: one call per task's processing.
    expect([...providerCalls.values()].every((n) => n === 1)).toBe(true);
    const moved = reports.map((r) => (r.moves.first ?? 0) + (r.moves.second ?? 0));
    expect(moved[0]! + moved[1]!).toBe(60);
    const finished = await runner.tasks("r1");
    expect(finished.every((t) => t.state === "completed")).toBe(true);
  });
});
