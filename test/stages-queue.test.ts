/**
 * Queue workers close the loop (issue 17 item 2), in one process on a
 * MemoryStore: a runner that serves no agent for `pre-label` leaves its
 * tasks due there; `runner.tasksAt` lists them in batches with the spec a
 * job handler takes; `runner.apply` applies the handler's JSON result to
 * the durable task, idempotently, refusing stale results with
 * `StaleJobResultError`. A fast-check property drives random orders of
 * duplicate, different and late results and sweeps: each task moves once,
 * along the first result applied to its wait. (The same over Redis and
 * BullMQ, with worker processes: stages-queue-redis.test.ts.)
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  defineWorkflow,
  InvalidOptionError,
  MemoryStore,
  MemoryTaskSource,
  RunNotFoundError,
  StageRunner,
  StaleJobResultError,
  UnknownPathwayError,
  type JobResult,
  type StageEventMap,
} from "../src/index.js";
import { rejection } from "./support/async.js";

const labeling = defineWorkflow({
  name: "labeling",
  stages: [
    {
      id: "pre-label",
      uuid: "3f1e-pre",
      kind: "agent",
      pathways: [
        { name: "review", to: "review", uuid: "p-review" },
        { name: "skip", to: "archive" },
      ],
    },
    { id: "review", kind: "review", pathways: { approve: "complete", reject: "pre-label" }, maxVisits: 3 },
    { id: "complete", kind: "final" },
    { id: "archive", kind: "final" },
  ],
});

/** The coordinator: no agent for pre-label, so a queue feeds it. */
function coordinator(store = new MemoryStore()) {
  return new StageRunner<{ text: string; label?: string }>(labeling, { store, backoff: { initialMs: 1, factor: 1, jitter: false } });
}

/** The worker's side: a runner with the agent, used only for its job handlers. */
function workerHandlers() {
  const worker = new StageRunner<{ text: string }>(labeling);
  worker.stage("pre-label", (task) => (task.data.text === "" ? "skip" : { pathway: "review", label: task.data.text.toUpperCase() }));
  return worker.toJobHandlers();
}

describe("runner.tasksAt and runner.apply", () => {
  it("lists due tasks in batches with a spec and job id; applied results move the tasks at the next sweep", async () => {
    const runner = coordinator();
    const source = new MemoryTaskSource(
      Array.from({ length: 25 }, (_, i) => ({ id: `t${String(i).padStart(2, "0")}`, data: { text: i % 5 === 0 ? "" : `x${i}` } })),
    );
    const first = await runner.runAsync({ tasks: source, runId: "q1" });
    expect(first.tasks.every((t) => t.state === "queued" && t.stageId === "pre-label")).toBe(true);
    expect(source.tasks().every((t) => t.stageId === "pre-label")).toBe(true);

    // Batches of 10, paged with `after`, in task id order, each task once.
    const batches: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const batch = await runner.tasksAt("Pre-label".toLowerCase(), { runId: "q1", limit: 10, ...(after !== undefined && { after }) });
      if (batch.length === 0) break;
      batches.push(batch.map((d) => d.taskId));
      after = batch.at(-1)?.taskId;
    }
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(batches.flat()).toEqual(source.tasks().map((t) => t.id));

    const due = await runner.tasksAt("3f1e-pre", { runId: "q1", limit: 100 }); // by uuid
    const mark = due[1]!.instance!; // the task run's random mark
    expect(mark).toMatch(/^[0-9a-f]{12}$/);
    expect(due[1]).toEqual({
      taskId: "t01",
      stageId: "pre-label",
      data: { text: "x1" },
      visit: 1,
      key: "due:pre-label:1:1",
      instance: mark,
      jobId: `q1/t01/due%3Apre-label%3A1%3A1/${mark}`,
      spec: JSON.stringify({ id: "t01", data: { text: "x1" }, stageId: "pre-label", key: "due:pre-label:1:1", instance: mark }),
    });
    const typed: string = due[1]!.data.text; // the runner's task data type reaches the queue
    expect(typed).toBe("x1");

    const handlers = workerHandlers();
    for (const d of due) {
      const result = await handlers["pre-label"]!(d.spec);
      expect(JSON.parse(result)).toMatchObject({ taskId: d.taskId, success: true, key: d.key });
      expect(await runner.apply("q1", result)).toMatchObject({ taskId: d.taskId, applied: true, key: d.key });
    }
    // Applied but not yet moved: no longer due.
    expect(await runner.tasksAt("pre-label", { runId: "q1" })).toEqual([]);
    const moves: StageEventMap["task:move"][] = [];
    runner.events.on("task:move", (e) => void moves.push(e));
    const second = await runner.runAsync({ tasks: source, runId: "q1" });
    expect(second.byStage).toEqual({ review: 20, archive: 5 });
    expect(moves).toHaveLength(25);
    expect(source.tasks().find((t) => t.id === "t01")).toMatchObject({ stageId: "review", data: { text: "x1", label: "X1" } });
  });

  it("applying the same result twice moves the task once; a different or late result is StaleJobResultError; nothing else is written", async () => {
    const store = new MemoryStore();
    const runner = coordinator(store);
    const source = new MemoryTaskSource([{ id: "a", data: { text: "cat" } }]);
    await runner.runAsync({ tasks: source, runId: "q2" });
    const [due] = await runner.tasksAt("pre-label", { runId: "q2" });
    const result = await workerHandlers()["pre-label"]!(due!.spec);
    expect((await runner.apply("q2", result)).applied).toBe(true);
    expect(await runner.apply("q2", JSON.parse(result) as JobResult)).toMatchObject({ applied: false, pathway: "review" });
    const other: JobResult = { ...(JSON.parse(result) as JobResult), pathway: "skip" };
    const before = JSON.stringify((await store.load("q2.a"))?.state);
    const stale = await rejection(runner.apply("q2", other));
    expect(stale).toBeInstanceOf(StaleJobResultError);
    expect(stale).toMatchObject({ code: "STALE_JOB_RESULT", taskId: "a", stageId: "pre-label" });
    expect(JSON.stringify((await store.load("q2.a"))?.state)).toBe(before);

    const moves: string[] = [];
    runner.events.on("task:move", (e) => void moves.push(`${e.taskId}:${e.from}->${e.to}`));
    await runner.runAsync({ tasks: source, runId: "q2" });
    expect(moves).toEqual(["a:pre-label->review"]);
    // After the move: the same result again is still the same (no error, nothing written), another one is stale.
    expect(await runner.apply("q2", result)).toMatchObject({ applied: false });
    expect(await rejection(runner.apply("q2", other))).toBeInstanceOf(StaleJobResultError);
    await runner.runAsync({ tasks: source, runId: "q2" });
    expect(moves).toEqual(["a:pre-label->review"]);

    // Sent back from review: a new visit with a new key; the visit-1 result cannot be applied to it.
    await runner.act("q2", "a", "reject", { assignee: "ann" });
    await runner.runAsync({ tasks: source, runId: "q2" });
    const [again] = await runner.tasksAt("pre-label", { runId: "q2" });
    expect(again).toMatchObject({ visit: 2, key: "due:pre-label:2:1" });
    expect(await runner.apply("q2", result)).toMatchObject({ applied: false, key: "due:pre-label:1:1" });
    expect(await rejection(runner.apply("q2", { ...(JSON.parse(result) as JobResult), key: "due:pre-label:1:1", pathway: "skip" }))).toBeInstanceOf(
      StaleJobResultError,
    );
    // A pathway by its uuid; the result of visit 2 moves the task.
    const visit2 = { ...(JSON.parse(await workerHandlers()["pre-label"]!(again!.spec)) as JobResult), pathway: "p-review" };
    expect(await runner.apply("q2", visit2)).toMatchObject({ applied: true, pathway: "review", key: "due:pre-label:2:1" });
    await runner.runAsync({ tasks: source, runId: "q2" });
    expect(await runner.task("q2", "a")).toMatchObject({ stageId: "review", status: "REOPENED" });
  });

  it("a result without a pathway or a failed job keeps the task due (next key) with its updates and error", async () => {
    const runner = coordinator();
    const source = new MemoryTaskSource([{ id: "b", data: { text: "dog" } }]);
    await runner.runAsync({ tasks: source, runId: "q3" });
    const [due] = await runner.tasksAt("pre-label", { runId: "q3" });
    const stay: JobResult = { taskId: "b", stageId: "pre-label", success: true, pathway: null, error: null, updates: { hint: "blurry" }, key: due!.key };
    expect(await runner.apply("q3", stay)).toMatchObject({ applied: true, pathway: null });
    await runner.runAsync({ tasks: source, runId: "q3" });
    const [next] = await runner.tasksAt("pre-label", { runId: "q3" });
    expect(next).toMatchObject({ key: "due:pre-label:1:2", data: { text: "dog", hint: "blurry" } });
    const failed: JobResult = {
      taskId: "b",
      stageId: "pre-label",
      success: false,
      pathway: null,
      error: "Error: GPU out of memory",
      updates: {},
      key: next!.key,
    };
    await runner.apply("q3", failed);
    await runner.runAsync({ tasks: source, runId: "q3" });
    expect(await runner.task("q3", "b")).toMatchObject({
      state: "queued",
      waitKey: "due:pre-label:1:3",
      data: { text: "dog", hint: "blurry" },
      error: { message: "Error: GPU out of memory" },
    });
  });

  it("refuses what cannot be applied before writing anything", async () => {
    const runner = coordinator();
    await runner.runAsync({ tasks: [{ id: "c", data: { text: "x" } }], runId: "q4" });
    const base: JobResult = { taskId: "c", stageId: "pre-label", success: true, pathway: "review", error: null, updates: {} };
    const unknown = await rejection(runner.apply("q4", { ...base, pathway: "reviw" }));
    expect(unknown).toBeInstanceOf(UnknownPathwayError);
    expect((unknown as UnknownPathwayError).validPathways).toEqual(["review", "skip"]);
    expect(await rejection(runner.apply("q4", "{not json"))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(runner.apply("q4", { ...base, updates: { fn: () => 1 } }))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(runner.apply("q4", { ...base, taskId: null }))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(runner.apply("q4", { ...base, stageId: "review" }))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(runner.apply("q4", { ...base, taskId: "nobody" }))).toBeInstanceOf(RunNotFoundError);
    expect(await rejection(runner.tasksAt("review", { runId: "q4" }))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(runner.tasksAt("pre-label", { runId: "q4", limit: 0 }))).toBeInstanceOf(InvalidOptionError);
    expect(await rejection(runner.tasksAt("pre-label", { runID: "q4" } as never))).toBeInstanceOf(InvalidOptionError);
    expect(await runner.tasksAt("pre-label", { runId: "q4" })).toHaveLength(1);
  });

  it("property: whatever the order of duplicate, different and late results and sweeps, a task moves once, along the first result applied", async () => {
    type Step = { kind: "apply"; task: number; pathway: "review" | "skip" } | { kind: "sweep" };
    const step = fc.oneof(
      fc.record({ kind: fc.constant("apply" as const), task: fc.integer({ min: 0, max: 2 }), pathway: fc.constantFrom("review" as const, "skip" as const) }),
      fc.constant({ kind: "sweep" as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), fc.boolean(), async (steps: Step[], withKey) => {
        const runner = coordinator();
        const source = new MemoryTaskSource([0, 1, 2].map((i) => ({ id: `t${i}`, data: { text: `v${i}` } })));
        await runner.runAsync({ tasks: source, runId: "p" });
        const keys = new Map((await runner.tasksAt("pre-label", { runId: "p" })).map((d) => [d.taskId, d.key]));
        const first = new Map<string, string>();
        const moves: string[] = [];
        runner.events.on("task:move", (e) => void moves.push(`${e.taskId}:${e.to}`));
        for (const s of steps) {
          if (s.kind === "sweep") {
            await runner.runAsync({ tasks: source, runId: "p" });
            continue;
          }
          const taskId = `t${s.task}`;
          const result: JobResult = {
            taskId,
            stageId: "pre-label",
            success: true,
            pathway: s.pathway,
            error: null,
            updates: {},
            ...(withKey && { key: keys.get(taskId) }),
          };
          const outcome = await runner.apply("p", result).catch((e: unknown) => e);
          const winner = first.get(taskId);
          if (winner === undefined) {
            expect(outcome).toMatchObject({ applied: true });
            first.set(taskId, s.pathway);
          } else if (winner === s.pathway) expect(outcome).toMatchObject({ applied: false });
          else expect(outcome).toBeInstanceOf(StaleJobResultError);
        }
        await runner.runAsync({ tasks: source, runId: "p" });
        const expected = [...first].map(([taskId, pathway]) => `${taskId}:${pathway === "review" ? "review" : "archive"}`).sort();
        expect([...moves].sort()).toEqual(expected);
      }),
      { numRuns: 60 },
    );
  });
});
