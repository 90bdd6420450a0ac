/**
 * One parking model for agent stages (issue 17 items 1 and 2 together): a
 * task at an agent stage that a runner does not serve (or whose
 * `maxTasksPerStage` is reached) is parked there on a `due:` wait, and
 * whichever comes first takes it: a runner that serves the stage (it
 * resumes the run and calls its agent) or a queue worker (`tasksAt` lists
 * it, `apply` writes the job handler's result, the next sweep of any
 * runner moves the task without calling an agent). The other one finds
 * the task gone: a late result is `StaleJobResultError`, an applied
 * result is never followed by an agent call at the same wait. A
 * fast-check property mixes sweeps of a serving runner (with caps), of a
 * coordinator and queue results in random orders: each task leaves the
 * stage once, and its agent is called only for tasks no applied result
 * moved.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defineWorkflow, MemoryStore, MemoryTaskSource, StageRunner, StaleJobResultError, type JobResult, type TaskInput } from "../src/index.js";
import { rejection } from "./support/async.js";

const labeling = defineWorkflow({
  name: "parking",
  stages: [
    { id: "pre-label", kind: "agent", pathways: { review: "review", skip: "archive" } },
    { id: "review", kind: "review", pathways: { approve: "complete" } },
    { id: "complete", kind: "final" },
    { id: "archive", kind: "final" },
  ],
});

/** A runner that serves pre-label, counting its agent's calls by task. */
function servingRunner(store: MemoryStore, calls: Map<string, number>): StageRunner {
  const runner = new StageRunner(labeling, { store });
  runner.stage("pre-label", (task) => {
    calls.set(task.id, (calls.get(task.id) ?? 0) + 1);
    return { pathway: "review", by: "runner" };
  });
  return runner;
}

/** A queue worker's result for a listed task. */
function queueResult(taskId: string, key: string, pathway = "review"): JobResult {
  return { taskId, stageId: "pre-label", success: true, pathway, error: null, updates: { by: "queue" }, key };
}

const tasks = (n: number): TaskInput[] => Array.from({ length: n }, (_, i) => ({ id: `t${i}`, data: { i } }));

describe("one parking model: serving runners and queue workers take parked tasks", () => {
  it("a task parked by a coordinator is picked up by a runner that serves the stage; a late queue result is stale", async () => {
    const store = new MemoryStore();
    const source = new MemoryTaskSource(tasks(3));
    const coordinator = new StageRunner(labeling, { store });
    const first = await coordinator.runAsync({ tasks: source, runId: "r" });
    expect(first.tasks.map((t) => t.state)).toEqual(["queued", "queued", "queued"]);
    const listed = await coordinator.tasksAt("pre-label", { runId: "r" });
    expect(listed.map((d) => d.key)).toEqual(["due:pre-label:1:1", "due:pre-label:1:1", "due:pre-label:1:1"]);

    const calls = new Map<string, number>();
    const report = await servingRunner(store, calls).runAsync({ tasks: source, runId: "r" });
    expect(report.byStage).toEqual({ review: 3 });
    expect([...calls.values()]).toEqual([1, 1, 1]);
    expect(await coordinator.tasksAt("pre-label", { runId: "r" })).toEqual([]);
    // The queue worker that took t0 from the listing answers after the runner moved it: refused, nothing written.
    const before = JSON.stringify((await store.load("r.t0"))?.state);
    expect(await rejection(coordinator.apply("r", queueResult("t0", listed[0]!.key)))).toBeInstanceOf(StaleJobResultError);
    expect(JSON.stringify((await store.load("r.t0"))?.state)).toBe(before);
    expect((await coordinator.task("r", "t0")).data).toEqual({ i: 0, by: "runner" });
  });

  it("a result applied to a parked task is taken by a serving runner instead of calling its agent", async () => {
    const store = new MemoryStore();
    const source = new MemoryTaskSource(tasks(2));
    const coordinator = new StageRunner(labeling, { store });
    await coordinator.runAsync({ tasks: source, runId: "r" });
    const [t0] = await coordinator.tasksAt("pre-label", { runId: "r", limit: 1 });
    expect(await coordinator.apply("r", queueResult("t0", t0!.key, "skip"))).toMatchObject({ applied: true, pathway: "skip" });
    // Listed no more: its result waits to be taken.
    expect((await coordinator.tasksAt("pre-label", { runId: "r" })).map((d) => d.taskId)).toEqual(["t1"]);

    const calls = new Map<string, number>();
    const moves: string[] = [];
    const runner = servingRunner(store, calls);
    runner.events.on("task:move", (e) => void moves.push(`${e.taskId}:${e.from}->${e.to}`));
    await runner.runAsync({ tasks: source, runId: "r" });
    expect(calls.get("t0")).toBeUndefined();
    expect(calls.get("t1")).toBe(1);
    expect(moves.sort()).toEqual(["t0:pre-label->archive", "t1:pre-label->review"]);
    expect(await runner.task("r", "t0")).toMatchObject({ stageId: "archive", state: "completed", data: { i: 0, by: "queue" } });
    // Sweeping again moves nothing and calls no agent.
    await runner.runAsync({ tasks: source, runId: "r" });
    expect(moves).toHaveLength(2);
    expect(calls.get("t0")).toBeUndefined();
  });

  it("tasks parked by a serving runner's per-stage cap are listed for a queue, and a runner that serves another stage moves an applied one", async () => {
    const store = new MemoryStore();
    const source = new MemoryTaskSource(tasks(4));
    const calls = new Map<string, number>();
    const runner = servingRunner(store, calls);
    // A first sweep of a runner that does not serve pre-label parks all four there.
    const other = new StageRunner(labeling, { store });
    await other.runAsync({ tasks: source, runId: "r" });
    const capped = await runner.runAsync({ tasks: source, runId: "r", maxTasksPerStage: 1 });
    expect(capped.processed).toBe(1);
    const listed = await runner.tasksAt("pre-label", { runId: "r" });
    expect(listed).toHaveLength(3);
    for (const d of listed) expect((await runner.apply("r", queueResult(d.taskId, d.key))).applied).toBe(true);
    // The runner without the agent takes the applied results.
    const taken = await other.runAsync({ tasks: source, runId: "r" });
    expect(taken.byStage).toEqual({ review: 4 });
    expect([...calls.values()]).toEqual([1]);
  });

  it("a runner with an executor serves every agent stage (its workers have the agents) unless serves says otherwise", async () => {
    const store = new MemoryStore();
    const source = new MemoryTaskSource(tasks(2));
    // A coordinator parks both tasks; a runner whose executor runs the workers' agent takes them from there.
    await new StageRunner(labeling, { store }).runAsync({ tasks: source, runId: "r" });
    const calls = new Map<string, number>();
    const worker = servingRunner(new MemoryStore(), calls);
    const executor = {
      execute: (activation: { nodeId: string }, context: unknown) =>
        Promise.resolve(
          worker
            .graph()
            .node(activation.nodeId)
            ?.fn(context as never),
        ),
    };
    const withExecutor = new StageRunner(labeling, { store, executor });
    expect(withExecutor.serves("pre-label")).toBe(true);
    const report = await withExecutor.runAsync({ tasks: source, runId: "r" });
    expect(report.byStage).toEqual({ review: 2 });
    expect([...calls.values()]).toEqual([1, 1]);
    const named = new StageRunner(labeling, { store, executor, serves: ["pre-label"] });
    expect(named.serves("pre-label")).toBe(true);
  });

  it("property: whatever the order of sweeps (serving, with caps, or not) and queue results, each task leaves the stage once", async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant("serve" as const), cap: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ kind: fc.constant("coordinate" as const) }),
      fc.record({ kind: fc.constant("list" as const), limit: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant("answer" as const), which: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 12 }), async (steps) => {
        const store = new MemoryStore();
        const source = new MemoryTaskSource(tasks(5));
        const calls = new Map<string, number>();
        const runner = servingRunner(store, calls);
        const coordinator = new StageRunner(labeling, { store });
        const moved = new Map<string, number>();
        for (const r of [runner, coordinator]) {
          r.events.on("task:move", (e) => {
            if (e.from === "pre-label") moved.set(e.taskId, (moved.get(e.taskId) ?? 0) + 1);
          });
        }
        const applied = new Set<string>();
        let inFlight: { taskId: string; key: string }[] = [];
        for (const s of steps) {
          if (s.kind === "serve") await runner.runAsync({ tasks: source, runId: "p", maxTasksPerStage: s.cap });
          else if (s.kind === "coordinate") await coordinator.runAsync({ tasks: source, runId: "p" });
          else if (s.kind === "list") inFlight = [...inFlight, ...(await coordinator.tasksAt("pre-label", { runId: "p", limit: s.limit }))];
          else if (inFlight.length > 0) {
            const job = inFlight.splice(s.which % inFlight.length, 1)[0]!;
            try {
              if ((await coordinator.apply("p", queueResult(job.taskId, job.key))).applied) applied.add(job.taskId);
            } catch (error) {
              expect(error).toBeInstanceOf(StaleJobResultError);
            }
          }
        }
        // Finish: the coordinator takes every applied result, then the serving runner the rest.
        await coordinator.runAsync({ tasks: source, runId: "p" });
        await runner.runAsync({ tasks: source, runId: "p" });
        for (const t of tasks(5)) {
          expect(moved.get(t.id), t.id).toBe(1);
          const report = await runner.task("p", t.id);
          expect(report.stageId).toBe("review");
          // Moved by the queue's result exactly when one was applied; then its agent was never called.
          expect(report.data.by).toBe(applied.has(t.id) ? "queue" : "runner");
          expect(calls.get(t.id) ?? 0).toBe(applied.has(t.id) ? 0 : 1);
        }
      }),
      { numRuns: 40 },
    );
  });
});
