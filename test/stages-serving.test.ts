/**
 * Runners that serve only some agent stages, in one process on one
 * MemoryStore (the two-process test is stages-serving-process.test.ts):
 * a task waits, durably, at an agent stage no agent of the runner serves
 * (state `queued`) until a runner that serves the stage picks it up; each
 * runner's report says what it did; `serves` is checked at the boundary;
 * a task run held by another runner is left alone (`busy`).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defineWorkflow, InvalidOptionError, MemoryStore, StageRegistrationError, StageRunner, type TaskInput } from "../src/index.js";
import { rejection } from "./support/async.js";

const pipeline = defineWorkflow({
  name: "pipeline",
  stages: [
    { id: "model", title: "Model", kind: "agent", pathways: { next: "rules" } },
    { id: "rules", kind: "agent", pathways: { done: "complete", flag: "review" } },
    { id: "review", kind: "review", pathways: { approve: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

const tasks: TaskInput[] = Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, data: { n: i } }));

function workers(store = new MemoryStore()) {
  const calls: string[] = [];
  const model = new StageRunner(pipeline, { store }).stage("model", (task) => {
    calls.push(`model ${task.id}`);
    return { pathway: "next", label: `L${task.data.n as number}` };
  });
  const rules = new StageRunner(pipeline, { store, serves: ["rules"] }).stage("rules", (task) => {
    calls.push(`rules ${task.id}`);
    return (task.data.n as number) % 5 === 0 ? "flag" : "done";
  });
  return { model, rules, calls, store };
}

describe("a runner that serves some agent stages", () => {
  it("leaves tasks at the stages it does not serve, durably, for a runner that serves them; each report says what it did", async () => {
    const { model, rules, calls } = workers();
    const first = await model.runAsync({ tasks, runId: "split" });
    expect(first).toMatchObject({ processed: 20, moves: { model: 20 }, queued: 20, completed: 0, byStage: { rules: 20 } });
    expect(first.tasks.every((t) => t.state === "queued" && t.stageId === "rules" && t.data.label !== undefined)).toBe(true);
    // The rules worker was not there: nothing of its stage ran.
    expect(calls.filter((c) => c.startsWith("rules"))).toEqual([]);
    // The model runner again: nothing to do (its stage is done, the tasks wait at rules).
    const again = await model.runAsync({ tasks, runId: "split" });
    expect(again).toMatchObject({ processed: 0, moves: {}, queued: 20 });

    const second = await rules.runAsync({ tasks, runId: "split" });
    expect(second).toMatchObject({ processed: 20, moves: { rules: 20 }, queued: 0, completed: 16, waiting: 4 });
    expect(calls.filter((c) => c.startsWith("model"))).toHaveLength(20);
    expect(calls.filter((c) => c.startsWith("rules")).sort()).toEqual(tasks.map((t) => `rules ${t.id}`).sort());
    // The data the model stage added reached the rules stage.
    expect(second.tasks.find((t) => t.taskId === "t3")).toMatchObject({ stageId: "complete", data: { n: 3, label: "L3" } });
  });

  it("a runner that does not serve the start stage leaves new tasks for one that does", async () => {
    const { model, rules } = workers();
    const early = await rules.runAsync({ tasks, runId: "early" });
    expect(early).toMatchObject({ processed: 0, queued: 20 });
    expect(early.tasks.every((t) => t.state === "queued" && t.stageId === "model")).toBe(true);
    await model.runAsync({ tasks, runId: "early" });
    expect(await rules.runAsync({ tasks, runId: "early" })).toMatchObject({ completed: 16, waiting: 4 });
  });

  it("a task whose run another runner drives is reported busy and left alone", async () => {
    const store = new MemoryStore();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = new StageRunner(pipeline, { store }).stage("model", async () => {
      await held;
      return "next";
    });
    const other = new StageRunner(pipeline, { store, serves: ["model"] }).stage("model", () => "next");
    const running = slow.runAsync({ tasks: [{ id: "a" }], runId: "held" });
    await new Promise((r) => setTimeout(r, 20));
    const report = await other.runAsync({ tasks: [{ id: "a" }], runId: "held" });
    expect(report.tasks[0]?.state).toBe("busy");
    expect(report.processed).toBe(0);
    release();
    expect((await running).moves).toEqual({ model: 1 });
  });

  it("leaves failed and staying tasks at a stage it does not serve as they are, for the runner that serves it", async () => {
    const store = new MemoryStore();
    let rulesAnswer: "stay" | "fail" | "done" = "fail";
    const model = new StageRunner(pipeline, { store }).stage("model", () => "next");
    const rules = new StageRunner(pipeline, { store, backoff: { initialMs: 1, jitter: false } }).stage("rules", (task) => {
      if (rulesAnswer === "fail") throw new Error("rules engine down");
      return rulesAnswer === "stay" || task.id === "s" ? undefined : "done";
    });
    const two = [{ id: "f" }, { id: "s" }];
    await model.runAsync({ tasks: two, runId: "left" });
    rulesAnswer = "fail";
    await rules.runAsync({ tasks: [{ id: "f" }], runId: "left", numRetries: 0 });
    rulesAnswer = "stay";
    await rules.runAsync({ tasks: [{ id: "s" }], runId: "left" });
    // The model runner neither retries the failed task nor asks the staying one again: it reports them as they are.
    const seen = await model.runAsync({ tasks: two, runId: "left" });
    expect(seen.tasks.map((t) => [t.taskId, t.stageId, t.state])).toEqual([
      ["f", "rules", "failed"],
      ["s", "rules", "staying"],
    ]);
    expect(seen.processed).toBe(0);
    rulesAnswer = "done";
    const done = await rules.runAsync({ tasks: two, runId: "left" });
    expect(done.tasks.map((t) => [t.taskId, t.state])).toEqual([
      ["f", "completed"],
      ["s", "staying"],
    ]);
  });

  it("whatever runners sweep in whatever order, with whatever caps, each task's agents run once per stage (property)", async () => {
    const three = defineWorkflow({
      name: "three",
      stages: [
        { id: "s1", kind: "agent", pathways: { on: "s2" } },
        { id: "s2", kind: "agent", pathways: { on: "s3" } },
        { id: "s3", kind: "agent", pathways: { on: "end" } },
        { id: "end", kind: "final" },
      ],
    });
    const subset = fc.subarray(["s1", "s2", "s3"], { minLength: 1 });
    await fc.assert(
      fc.asyncProperty(
        fc.array(subset, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }),
        async (serveSets, sweeps, n) => {
          const store = new MemoryStore();
          const calls = new Map<string, number>();
          // Every stage is served by some runner (the last one fills the gaps).
          const covered = new Set(serveSets.flat());
          const sets = [...serveSets, ["s1", "s2", "s3"].filter((s) => !covered.has(s))].filter((set) => set.length > 0);
          const runners = sets.map((set) => {
            const r = new StageRunner(three, { store, serves: set });
            for (const stage of set) {
              r.stage(stage, (task) => {
                calls.set(`${stage} ${task.id}`, (calls.get(`${stage} ${task.id}`) ?? 0) + 1);
                return "on";
              });
            }
            return r;
          });
          const ids = Array.from({ length: n }, (_, i) => ({ id: `t${i}` }));
          const sweep = (which: number, cap: number) =>
            (runners[which % runners.length] as StageRunner).runAsync({ tasks: ids, runId: "p", maxTasksPerStage: cap });
          for (const [which, cap] of sweeps) await sweep(which, cap);
          // Then every runner in turn until done (each round moves every task at least one stage; three are enough).
          for (let round = 0; round < 4; round++) for (let i = 0; i < runners.length; i++) await sweep(i, Infinity);
          const final = await sweep(0, Infinity);
          expect(final.completed).toBe(n);
          for (const t of ids) for (const stage of ["s1", "s2", "s3"]) expect(calls.get(`${stage} ${t.id}`), `${stage} ${t.id}`).toBe(1);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("checks serves: agent stages by id or title, each served stage needs an agent", async () => {
    expect(() => new StageRunner(pipeline, { serves: ["review"] })).toThrow(InvalidOptionError);
    expect(() => new StageRunner(pipeline, { serves: ["nope"] })).toThrow(
      /"nope" is not an agent stage of workflow "pipeline" \(agent stages: "model", "rules"\)/,
    );
    expect(() => new StageRunner(pipeline, { serves: [] })).toThrow(InvalidOptionError);
    const byTitle = new StageRunner(pipeline, { store: new MemoryStore(), serves: ["Model"] });
    expect(byTitle.serves("model")).toBe(true);
    expect(byTitle.serves("rules")).toBe(false);
    expect(byTitle.serves("review")).toBe(true);
    const err = await rejection(byTitle.runAsync({ tasks, runId: "x" }));
    expect(err).toBeInstanceOf(StageRegistrationError);
    expect(String(err)).toMatch(/serves "model" but has no agent/);
  });
});
