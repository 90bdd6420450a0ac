/**
 * The stage runner in one process, on a MemoryStore: 500 tasks through a
 * pre-label agent, a human review that loops back on reject, and final
 * stages; retries, failures that do not stop other tasks, unknown
 * pathways, staying, providers per task, the shared concurrency limit,
 * batches and per-stage limits, refresh sweeps on a manual clock, and
 * every refusal of `act`.
 */
import { describe, expect, it } from "vitest";
import {
  ActionNotAllowedError,
  compileWorkflow,
  defineWorkflow,
  InvalidOptionError,
  ManualClock,
  MemoryStore,
  MemoryTaskSource,
  NodeFailedError,
  runAsync,
  RunNotFoundError,
  StageRegistrationError,
  StageRunner,
  UnknownPathwayError,
  type JobResult,
  type StageEventMap,
  type TaskInput,
} from "../src/index.js";
import { deferred, rejection, until } from "./support/async.js";

const labeling = defineWorkflow({
  name: "labeling",
  stages: [
    { id: "pre-label", title: "Pre-label", kind: "agent", pathways: { review: "review", skip: "archive" } },
    { id: "review", title: "Review", kind: "review", pathways: { approve: "complete", reject: "pre-label" }, maxVisits: 2 },
    { id: "complete", kind: "final" },
    { id: "archive", kind: "final" },
  ],
});

const fast = { backoff: { initialMs: 1, factor: 1, jitter: false } } as const;

function newRunner(store = new MemoryStore()) {
  return new StageRunner(labeling, { store, ...fast });
}

describe("500 tasks through pre-label, review (with a loop back) and final stages", () => {
  it("ends each task in the right final stage; rejected tasks loop and stop at maxVisits; failures stay with their task", async () => {
    const runner = newRunner();
    const calls = new Map<string, number[]>();
    runner.stage("Pre-label", async (task, { attempt, visit }) => {
      const list = calls.get(task.id) ?? [];
      list.push(attempt);
      calls.set(task.id, list);
      const kind = task.data.kind as string;
      if (kind === "broken") throw new Error(`model crashed on ${task.id}`);
      if (kind === "flaky" && attempt < 3) throw new Error("model timed out");
      if (kind === "typo") return "reviw";
      if (kind === "empty") return "skip";
      return { pathway: "review", label: `${task.id}-v${visit}` };
    });
    const kindOf = (i: number): string =>
      i % 100 === 7
        ? "broken"
        : i % 100 === 8
          ? "typo"
          : i % 50 === 9
            ? "flaky"
            : i % 10 === 3
              ? "empty"
              : i % 5 === 0
                ? "stubborn"
                : i % 7 === 0
                  ? "fixable"
                  : "fine";
    const tasks: TaskInput[] = Array.from({ length: 500 }, (_, i) => ({ id: `t${i}`, data: { kind: kindOf(i) } }));
    const ids = (kind: string) => tasks.filter((t) => t.data?.kind === kind).map((t) => t.id);
    const source = new MemoryTaskSource(tasks);
    const moves: StageEventMap["task:move"][] = [];
    runner.events.on("task:move", (e) => void moves.push(e));

    const first = await runner.runAsync({ tasks: source, runId: "lab", numRetries: 3, maxConcurrency: 16, batchSize: 100 });
    expect(source.batches.map((b) => b.length)).toEqual([100, 100, 100, 100, 100]);
    expect(first.completed).toBe(ids("empty").length);
    expect(first.waiting).toBe(500 - ids("empty").length - ids("broken").length - ids("typo").length);
    // A failing agent: tried numRetries + 1 times, reported with its error; the others went on.
    expect(first.failed.map((f) => f.taskId).sort()).toEqual([...ids("broken"), ...ids("typo")].sort());
    for (const id of ids("broken")) {
      expect(calls.get(id)).toEqual([1, 2, 3, 4]);
      const report = first.failed.find((f) => f.taskId === id);
      expect(report).toMatchObject({ stageId: "pre-label", state: "failed", error: { name: "NodeFailedError", code: "NODE_FAILED" } });
      expect(report?.error?.message).toContain(`model crashed on ${id}`);
    }
    for (const id of ids("flaky")) expect(calls.get(id)).toEqual([1, 2, 3]);
    // An unknown pathway: not retried, and the error names the valid pathways.
    for (const id of ids("typo")) {
      expect(calls.get(id)).toEqual([1]);
      expect(first.failed.find((f) => f.taskId === id)?.error?.message).toMatch(/"reviw", which the stage does not have \(valid pathways: "review", "skip"\)/);
    }
    expect(source.tasks().find((t) => t.id === "t1")).toMatchObject({ stageId: "review", status: "NEW", data: { kind: "fine", label: "t1-v1" } });

    // People review: stubborn tasks are always rejected, fixable ones once, the rest approved.
    const review = async (round: number): Promise<void> => {
      for (const t of tasks) {
        const kind = t.data?.kind as string;
        if (!["fine", "flaky", "stubborn", "fixable"].includes(kind)) continue;
        const report = await runner.task("lab", t.id);
        if (report.state !== "waiting") continue;
        const reject = kind === "stubborn" || (kind === "fixable" && round === 1);
        await runner.act("lab", t.id, reject ? "reject" : "approve", { assignee: "ann" });
      }
    };
    await review(1);
    const second = await runner.runAsync({ tasks: source, runId: "lab", numRetries: 3, maxConcurrency: 16, batchSize: 100 });
    const loopers = [...ids("stubborn"), ...ids("fixable")];
    expect(second.waiting).toBe(loopers.length);
    for (const id of loopers) {
      expect(await runner.task("lab", id)).toMatchObject({ stageId: "review", status: "REOPENED", state: "waiting", data: { label: `${id}-v2` } });
    }
    // Failed tasks are tried again by a new runAsync call, and fail again the same way.
    expect(second.failed.map((f) => f.taskId).sort()).toEqual([...ids("broken"), ...ids("typo")].sort());
    expect(calls.get(ids("broken")[0] as string)).toHaveLength(8);

    await review(2);
    const third = await runner.runAsync({ tasks: source, runId: "lab", numRetries: 3, maxConcurrency: 16, batchSize: 100 });
    for (const t of third.tasks) {
      const kind = t.data.kind as string;
      const expected =
        kind === "empty"
          ? { stageId: "archive", state: "completed", status: "COMPLETED" }
          : kind === "broken" || kind === "typo"
            ? { stageId: "pre-label", state: "failed" }
            : kind === "stubborn"
              ? // Pre-label's third visit chose review, whose third visit is one too many: the task stays in pre-label.
                { stageId: "pre-label", state: "failed", error: { name: "LoopLimitExceeded", code: "LOOP_LIMIT" } }
              : { stageId: "complete", state: "completed", status: "COMPLETED" };
      expect(t, `${t.taskId} (${kind})`).toMatchObject(expected);
    }
    expect(third.completed).toBe(ids("empty").length + ids("fine").length + ids("flaky").length + ids("fixable").length);
    // The loop: a fixable task visited pre-label and review twice; a stubborn one was stopped at review's maxVisits (2).
    const path = (id: string) => moves.filter((m) => m.taskId === id).map((m) => `${m.from}>${m.to}@${m.visit}`);
    expect(path(ids("fixable")[0] as string)).toEqual(["pre-label>review@1", "review>pre-label@1", "pre-label>review@2", "review>complete@2"]);
    // Its third pre-label visit chose review; that move was refused by review's maxVisits.
    expect(path(ids("stubborn")[0] as string)).toEqual([
      "pre-label>review@1",
      "review>pre-label@1",
      "pre-label>review@2",
      "review>pre-label@2",
      "pre-label>review@3",
    ]);
    expect(third.failed.find((f) => f.taskId === ids("stubborn")[0])?.error?.message).toMatch(/visited more than 2 times/);
    expect(source.tasks().find((t) => t.id === ids("fixable")[0])).toMatchObject({ stageId: "complete", status: "COMPLETED" });
  });
});

describe("agents", () => {
  it("an agent that answers undefined keeps the task in its stage, with its updates, and is asked again at the next runAsync", async () => {
    const runner = newRunner();
    const asked: number[] = [];
    runner.stage("pre-label", async (task) => {
      asked.push(Number(task.data.tries ?? 0));
      const tries = Number(task.data.tries ?? 0) + 1;
      return tries < 3 ? { tries } : { pathway: "review", tries };
    });
    const tasks = [{ id: "a" }];
    expect((await runner.runAsync({ tasks, runId: "stay" })).tasks[0]).toMatchObject({
      stageId: "pre-label",
      status: "NEW",
      state: "staying",
      data: { tries: 1 },
    });
    expect((await runner.runAsync({ tasks, runId: "stay" })).tasks[0]).toMatchObject({ stageId: "pre-label", state: "staying", data: { tries: 2 } });
    expect((await runner.runAsync({ tasks, runId: "stay" })).tasks[0]).toMatchObject({ stageId: "review", state: "waiting", data: { tries: 3 } });
    expect(asked).toEqual([0, 1, 2]);
  });

  it("resolves providers once per task, shared by stages, and disposes them after the task whatever happened", async () => {
    const wf = defineWorkflow({
      name: "two-agents",
      stages: [
        { id: "a", kind: "agent", pathways: { next: "b" } },
        { id: "b", kind: "agent", pathways: { done: "end" } },
        { id: "end", kind: "final" },
      ],
    });
    const runner = new StageRunner(wf, { store: new MemoryStore(), ...fast });
    const made: string[] = [];
    const disposed: string[] = [];
    const provideClient = async (task: { id: string }) => {
      made.push(task.id);
      return { value: { name: `client-${task.id}` }, dispose: () => void disposed.push(task.id) };
    };
    runner.stage("a", async (task, { deps }) => ({ pathway: "next", seenA: deps.client.name }), { deps: { client: provideClient } });
    runner.stage(
      "b",
      async (task, { deps }) => {
        if (task.id === "bad") throw new Error("b fails");
        return { pathway: "done", seenB: deps.client.name };
      },
      { deps: { client: provideClient } },
    );
    const report = await runner.runAsync({ tasks: [{ id: "ok" }, { id: "bad" }], runId: "di", numRetries: 1 });
    expect(report.tasks.find((t) => t.taskId === "ok")?.data).toEqual({ seenA: "client-ok", seenB: "client-ok" });
    expect(report.failed.map((f) => f.taskId)).toEqual(["bad"]);
    expect(made.sort()).toEqual(["bad", "ok"]);
    expect(disposed.sort()).toEqual(["bad", "ok"]);
  });

  it("maxConcurrency bounds agent calls across all tasks", async () => {
    const runner = newRunner();
    const gate = deferred();
    let running = 0;
    let peak = 0;
    runner.stage("pre-label", async () => {
      running++;
      peak = Math.max(peak, running);
      await gate.promise;
      running--;
      return "review";
    });
    const done = runner.runAsync({ tasks: Array.from({ length: 20 }, (_, i) => ({ id: `t${i}` })), runId: "mc", maxConcurrency: 3 });
    await until(() => running === 3, "three agents running");
    for (let i = 0; i < 50; i++) await new Promise<void>((r) => setImmediate(r));
    expect(running).toBe(3);
    gate.resolve();
    expect((await done).waiting).toBe(20);
    expect(peak).toBe(3);
  });

  it("registering a stage twice needs overwrite; compileWorkflow needs every agent, a runner queues unserved stages", async () => {
    const runner = newRunner();
    runner.stage("pre-label", async () => "review");
    expect(() => runner.stage("Pre-label", async () => "skip")).toThrow(StageRegistrationError);
    runner.stage("Pre-label", async () => "skip", { overwrite: true });
    expect(runner.agents().map((a) => a.stageId)).toEqual(["pre-label"]);
    expect((await runner.runAsync({ tasks: [{ id: "x" }], runId: "ow" })).tasks[0]).toMatchObject({ stageId: "archive" });
    const bare = newRunner();
    // A runner may serve some agent stages only (DESIGN §8): an unserved stage's tasks wait there for a queue (runner.tasksAt / apply).
    expect((await bare.runAsync({ tasks: [{ id: "x" }], runId: "none" })).tasks[0]).toMatchObject({ stageId: "pre-label", state: "queued" });
    expect(() => compileWorkflow(labeling, {})).toThrow(/agent stages without an agent: "pre-label"/);
  });
});

describe("compileWorkflow", () => {
  it("is a TaskGraph that runs one task; an unknown pathway fails the node at once naming the valid ones", async () => {
    let calls = 0;
    const g = compileWorkflow(labeling, {
      "pre-label": async (task) => {
        calls++;
        return task.data.bad ? "nope" : "skip";
      },
    });
    const store = new MemoryStore();
    expect(await runAsync(g, { id: "t1", data: {} }, { store, runId: "g1" })).toEqual({
      id: "t1",
      stageId: "archive",
      status: "COMPLETED",
      data: {},
      pathway: "skip",
    });
    const err = await rejection(runAsync(g, { id: "t2", data: { bad: true } }, { store, runId: "g2", retry: { maxAttempts: 5 } }));
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).cause).toBeInstanceOf(UnknownPathwayError);
    expect((err as NodeFailedError).cause).toMatchObject({ code: "UNKNOWN_PATHWAY", validPathways: ["review", "skip"] });
    expect(calls).toBe(2);
  });
});

describe("sweeps", () => {
  it("processes at most maxTasksPerStage tasks per stage per sweep; the rest are deferred", async () => {
    const runner = newRunner();
    runner.stage("pre-label", async () => "review");
    const tasks = Array.from({ length: 10 }, (_, i) => ({ id: `t${i}` }));
    const one = await runner.runAsync({ tasks, runId: "per-stage", maxTasksPerStage: 4 });
    expect(one.tasks.filter((t) => t.state === "waiting")).toHaveLength(4);
    expect(one.tasks.filter((t) => t.state === "deferred").map((t) => t.taskId)).toEqual(["t4", "t5", "t6", "t7", "t8", "t9"]);
    const two = await runner.runAsync({ tasks, runId: "per-stage", maxTasksPerStage: 4 });
    expect(two.waiting).toBe(8);
  });

  it("a batch whose write to the source fails is written with the next batch; the runner goes on", async () => {
    const runner = newRunner();
    runner.stage("pre-label", async () => "review");
    const source = new MemoryTaskSource(Array.from({ length: 6 }, (_, i) => ({ id: `t${i}` })));
    const write = source.write.bind(source);
    let calls = 0;
    source.write = async (moves) => {
      if (++calls === 1) throw new Error("service unavailable");
      return write(moves);
    };
    const warnings: string[] = [];
    runner.events.on("warning", (e) => void warnings.push(e.message));
    const report = await runner.runAsync({ tasks: source, runId: "flaky-source", batchSize: 2 });
    expect(report.waiting).toBe(6);
    expect(warnings).toEqual([expect.stringMatching(/could not be written \(Error: service unavailable\); its 2 moves are written with the next batch/)]);
    expect(source.batches.map((b) => b.map((m) => m.taskId))).toEqual([
      ["t0", "t1", "t2", "t3"],
      ["t4", "t5"],
    ]);
    expect(source.tasks().every((t) => t.stageId === "review")).toBe(true);
  });

  it("with refreshEveryMs, sweeps start on a fixed schedule (at once after an overrun), see new tasks, and stop on abort", async () => {
    const clock = new ManualClock(1_000);
    const runner = new StageRunner(labeling, { store: new MemoryStore(), clock, ...fast });
    const slow = new Set(["slow"]);
    runner.stage("pre-label", async (task) => {
      if (slow.has(task.id)) await clock.advance(1_500); // this sweep overruns its 1 s period
      return "review";
    });
    const source = new MemoryTaskSource([{ id: "a" }]);
    const starts: number[] = [];
    const ends: number[] = [];
    runner.events.on("sweep:end", (e) => {
      ends.push(e.at);
      if (e.sweep === 1) source.add({ id: "slow" });
    });
    const controller = new AbortController();
    runner.events.on("sweep:start", (e) => {
      starts.push(e.at);
      if (e.sweep === 4) controller.abort();
    });
    const done = runner.runAsync({ tasks: source, runId: "refresh", refreshEveryMs: 1_000, signal: controller.signal });
    await until(() => ends.length === 1, "the first sweep to end");
    expect(clock.pendingDelays()).toEqual([1_000]);
    await clock.advance(999);
    expect(starts).toEqual([1_000]);
    await clock.advance(1);
    await until(() => ends.length === 3, "sweeps 2 and 3");
    // Sweep 2 began at 2000 and overran to 3500: sweep 3 started at once, sweep 4 is due one period after it.
    expect(starts).toEqual([1_000, 2_000, 3_500]);
    expect(clock.pendingDelays()).toEqual([1_000]);
    await clock.advance(1_000);
    const report = await done;
    expect(starts).toEqual([1_000, 2_000, 3_500, 4_500]);
    expect(report.sweeps).toBe(4);
    expect(report.tasks.map((t) => [t.taskId, t.state])).toEqual([
      ["a", "waiting"],
      ["slow", "waiting"],
    ]);
  });
});

describe("act", () => {
  it("refuses actions the task's stage does not allow, listing the allowed ones; records allowed ones", async () => {
    const runner = newRunner();
    runner.stage("pre-label", async (task) => (task.id === "s" ? undefined : "review"));
    await runner.runAsync({ tasks: [{ id: "t" }, { id: "s" }], runId: "acts" });

    const submit = await rejection(runner.act("acts", "t", "submit"));
    expect(submit).toBeInstanceOf(ActionNotAllowedError);
    expect(submit).toMatchObject({ code: "ACTION_NOT_ALLOWED", stageId: "review", allowed: ["approve", "reject", "assign", "skip"] });
    expect((submit as Error).message).toContain('(allowed now: "approve", "reject", "assign", "skip")');
    expect(await rejection(runner.act("acts", "t", "release"))).toBeInstanceOf(ActionNotAllowedError);
    expect(await rejection(runner.act("acts", "t", "assign"))).toBeInstanceOf(InvalidOptionError);

    expect(await runner.act("acts", "t", "assign", { assignee: "ann" })).toEqual({ taskId: "t", stageId: "review", action: "assign", key: "act:review:1:1" });
    const pending = await rejection(runner.act("acts", "t", "approve"));
    expect((pending as Error).message).toMatch(/the action "assign" is already recorded and will be applied at the runner's next sweep/);
    await runner.runAsync({ tasks: [{ id: "t" }, { id: "s" }], runId: "acts" });
    expect(await runner.task("acts", "t")).toMatchObject({ status: "ASSIGNED", assignee: "ann", state: "waiting" });
    await runner.act("acts", "t", "release");
    await runner.runAsync({ tasks: [{ id: "t" }, { id: "s" }], runId: "acts" });
    expect(await runner.task("acts", "t")).toMatchObject({ status: "RELEASED", state: "waiting" });
    await runner.act("acts", "t", "skip");
    await runner.runAsync({ tasks: [{ id: "t" }, { id: "s" }], runId: "acts" });
    const skipped = await runner.task("acts", "t");
    expect(skipped).toMatchObject({ status: "SKIPPED", state: "waiting" });
    expect(((await rejection(runner.act("acts", "t", "skip"))) as ActionNotAllowedError).allowed).toEqual(["approve", "reject", "assign"]);

    const onAgent = await rejection(runner.act("acts", "s", "approve"));
    expect((onAgent as Error).message).toMatch(/it is in stage "pre-label", a agent stage, which takes no actions from people/);
    expect(await rejection(runner.act("acts", "nobody", "approve"))).toBeInstanceOf(RunNotFoundError);

    await runner.act("acts", "t", "approve", { assignee: "bob" });
    await runner.runAsync({ tasks: [{ id: "t" }, { id: "s" }], runId: "acts" });
    expect(await runner.task("acts", "t")).toMatchObject({ stageId: "complete", status: "COMPLETED", assignee: "bob" });
    expect(((await rejection(runner.act("acts", "t", "approve"))) as Error).message).toMatch(/it is completed, in final stage "complete"/);
  });
});

describe("options and job handlers", () => {
  it("validates every runAsync option at the boundary", async () => {
    const runner = newRunner();
    runner.stage("pre-label", async () => "review");
    const bad = [
      [{ numRetries: -1 }, /numRetries must be a whole number of at least 0/],
      [{ maxConcurrency: 0 }, /maxConcurrency must be a whole number of at least 1, or Infinity/],
      [{ batchSize: 2.5 }, /batchSize/],
      [{ maxTasksPerStage: 0 }, /maxTasksPerStage/],
      [{ refreshEveryMs: -5 }, /refreshEveryMs must be a finite number/],
      [{ runId: "../x" }, /run id/],
      [{ tasks: "nope" }, /tasks must be an array of tasks or a TaskSource/],
      [{ tasks: [{ id: "a" }, { id: "a" }] }, /repeats the task id "a"/],
      [{ bogus: 1 }, /option bogus of StageRunner.runAsync is not known; known options: tasks, runId/],
    ] as const;
    for (const [options, message] of bad) {
      const err = await rejection(runner.runAsync({ tasks: [{ id: "ok" }], runId: "v", ...options } as never));
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
      expect(err, JSON.stringify(options)).toMatchObject({ message: expect.stringMatching(message) });
    }
    expect(() => new StageRunner(labeling, { maxVisits: 0 })).toThrow(InvalidOptionError);
  });

  it("toJobHandlers round-trips JSON for each agent stage", async () => {
    const runner = newRunner();
    runner.stage("pre-label", async (task) => ({ pathway: task.data.empty ? "skip" : "review", seen: true }));
    const handlers = runner.toJobHandlers();
    expect(Object.keys(handlers)).toEqual(["pre-label"]);
    const out = JSON.parse(await handlers["pre-label"]!(JSON.stringify([{ id: "a" }, { id: "b", data: { empty: true } }]))) as JobResult[];
    expect(out).toEqual([
      { taskId: "a", stageId: "pre-label", success: true, pathway: "review", error: null, updates: { seen: true } },
      { taskId: "b", stageId: "pre-label", success: true, pathway: "skip", error: null, updates: { seen: true } },
    ]);
  });
});
