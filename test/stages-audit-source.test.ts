/**
 * Audit: the task source as a view of the task runs. A source that missed
 * a batch (a crash before it was written, or a write that failed until the
 * call ended) is brought up to date by the next sweep, for every task the
 * sweep does not process, including the tasks `maxTasksPerStage` defers;
 * and a sweep writes nothing false about a task it never ran.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { defineWorkflow, JsonFileTaskSource, ManualClock, MemoryStore, MemoryTaskSource, StageRunner, type TaskMove, type TaskSource } from "../src/index.js";
import { until } from "./support/async.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-stages-audit-source-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const workflow = defineWorkflow({
  name: "audit-source",
  stages: [
    { id: "first", kind: "agent", pathways: { next: "second" } },
    { id: "second", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

/** A source whose writes always fail (as a process that dies before its batch is written). */
function unwritable(source: MemoryTaskSource): TaskSource {
  return {
    fetch: () => source.fetch(),
    write: async () => {
      throw new Error("disk full");
    },
  };
}

describe("a source that missed a batch", () => {
  it("catches up for the tasks maxTasksPerStage defers in the next sweep, not only those it skips", async () => {
    const store = new MemoryStore();
    const source = new MemoryTaskSource([{ id: "t1" }, { id: "t2" }, { id: "t3" }]);
    // A runner that serves "first" only: its tasks are parked at "second"; its writes are lost.
    const first = new StageRunner(workflow, { store, serves: ["first"] }).stage("first", async () => "next");
    const parked = await first.runAsync({ tasks: unwritable(source), runId: "r1" });
    expect(parked.queued).toBe(3);
    expect(source.tasks().map((t) => t.stageId)).toEqual([undefined, undefined, undefined]);

    // The runner of "second" takes one task per sweep: the two it defers are at "second" too.
    const second = new StageRunner(workflow, { store }).stage("second", async () => undefined);
    const report = await second.runAsync({ tasks: source, runId: "r1", maxTasksPerStage: 1 });
    expect(report.tasks.map((t) => t.state).sort()).toEqual(["deferred", "deferred", "staying"]);
    expect(source.tasks().map((t) => [t.id, t.stageId])).toEqual([
      ["t1", "second"],
      ["t2", "second"],
      ["t3", "second"],
    ]);
  });

  it("writes no stage for a task its source marks COMPLETED and the runner never ran", async () => {
    const store = new MemoryStore();
    const source = new MemoryTaskSource([{ id: "done", status: "COMPLETED" }, { id: "t1" }]);
    const runner = new StageRunner(workflow, { store }).stage("first", async () => "next").stage("second", async () => "done");
    await runner.runAsync({ tasks: source, runId: "r1" });
    const written: TaskMove[] = source.batches.flat();
    expect(written.map((m) => m.taskId)).toEqual(["t1"]);
    expect(source.tasks().find((t) => t.id === "done")).toEqual({ id: "done", status: "COMPLETED" });
  });
});

describe("a JSON task file", () => {
  it("takes a batch whose task data holds a BigInt (the store keeps it): one task's value never blocks every move", async () => {
    const file = join(root, "bigint.json");
    writeFileSync(file, JSON.stringify([{ id: "big" }, { id: "small" }]));
    const warnings: string[] = [];
    const runner = new StageRunner(workflow, { store: new MemoryStore() })
      .stage("first", async (task) => (task.id === "big" ? { pathway: "next", count: 12345678901234567890n } : "next"))
      .stage("second", async () => "done");
    runner.events.on("warning", (e) => warnings.push(e.message));
    const report = await runner.runAsync({ tasks: new JsonFileTaskSource(file), runId: "r1" });
    expect(report.completed).toBe(2);
    expect(warnings).toEqual([]);
    const written = JSON.parse(readFileSync(file, "utf8")) as { id: string; stageId?: string; data?: Record<string, unknown> }[];
    expect(written.map((t) => [t.id, t.stageId])).toEqual([
      ["big", "complete"],
      ["small", "complete"],
    ]);
    expect(written[0]?.data).toEqual({ count: "12345678901234567890" });
  });

  it("is read when it starts with a byte order mark (as some editors save it)", async () => {
    const file = join(root, "bom.json");
    writeFileSync(file, `\uFEFF${JSON.stringify([{ id: "t1" }])}`);
    await expect(new JsonFileTaskSource(file).fetch()).resolves.toEqual([{ id: "t1" }]);
  });
});

describe("the source after a sweep whose writes succeed (property)", () => {
  it("shows every task that has a run where its run is, whatever writes were lost before and whatever the caps", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            runner: fc.constantFrom("first", "second", "both", "none"),
            cap: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
            lost: fc.boolean(),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 1_000 }),
        async (calls, taskCount, cap, seed) => {
          const store = new MemoryStore();
          const source = new MemoryTaskSource(Array.from({ length: taskCount }, (_, i) => ({ id: `t${i}` })));
          let n = seed;
          // Agents that sometimes keep their task (asked again at a later sweep).
          const agent = (pathway: string) => async (): Promise<string | undefined> => (++n % 3 === 0 ? undefined : pathway);
          const make = (which: string): StageRunner => {
            const runner = new StageRunner(workflow, { store, ...(which !== "none" && which !== "both" && { serves: [which] }) });
            if (which === "first" || which === "both") runner.stage("first", agent("next"));
            if (which === "second" || which === "both") runner.stage("second", agent("done"));
            return runner;
          };
          for (const call of calls) {
            await make(call.runner).runAsync({
              tasks: call.lost ? unwritable(source) : source,
              runId: "r1",
              ...(call.cap !== undefined && { maxTasksPerStage: call.cap }),
            });
          }
          // A last sweep, with writes that succeed, by a runner with a cap: the source catches up for every task.
          await make("both").runAsync({ tasks: source, runId: "r1", maxTasksPerStage: cap });
          const runs = new Map((await make("none").tasks("r1")).map((t) => [t.taskId, t]));
          for (const t of source.tasks()) {
            const run = runs.get(t.id);
            if (run === undefined) continue;
            expect([t.id, t.stageId, t.status]).toEqual([t.id, run.stageId, run.status]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("a task file damaged while a refreshing runner sweeps", () => {
  it("skips the sweep that cannot read it, with a warning, and goes on once it is whole again", async () => {
    const file = join(root, "edited.json");
    writeFileSync(file, JSON.stringify([{ id: "t1" }]));
    const clock = new ManualClock(1_000_000);
    const runner = new StageRunner(workflow, { store: new MemoryStore(), clock }).stage("first", async () => "next").stage("second", async () => "done");
    const warnings: string[] = [];
    runner.events.on("warning", (e) => warnings.push(e.message));
    /** Resolves at the next end of a sweep (the runner then arms its wait for the next one, in the same turn). */
    const sweepEnd = (): Promise<void> =>
      new Promise((resolve) => {
        const listener = (): void => {
          runner.events.off("sweep:end", listener);
          resolve();
        };
        runner.events.on("sweep:end", listener);
      });
    const controller = new AbortController();
    let ending = sweepEnd();
    const done = runner.runAsync({ tasks: new JsonFileTaskSource(file), runId: "r1", refreshEveryMs: 60_000, signal: controller.signal });
    await ending;

    // An editor caught half way through its save.
    writeFileSync(file, '[{ "id": "t1" }, { "id": "t');
    await clock.advance(60_000);
    await until(() => warnings.length > 0 && clock.pendingDelays().length > 0, "the skipped sweep");
    expect(warnings[0]).toMatch(/could not be read.*not valid JSON/);

    // Saved: a new task was added (and the first one's position, written by the runner, is gone from the file).
    writeFileSync(file, JSON.stringify([{ id: "t1" }, { id: "t2" }]));
    ending = sweepEnd();
    await clock.advance(60_000);
    await ending;
    controller.abort();
    const report = await done;
    expect(report.completed).toBe(2);
    const written = JSON.parse(readFileSync(file, "utf8")) as { id: string; stageId?: string }[];
    expect(written.map((t) => [t.id, t.stageId])).toEqual([
      ["t1", "complete"],
      ["t2", "complete"],
    ]);
  });

  it("still fails the first sweep of a call at once (a wrong path fails fast)", async () => {
    const runner = new StageRunner(workflow, { store: new MemoryStore() }).stage("first", async () => "next");
    await expect(runner.runAsync({ tasks: new JsonFileTaskSource(join(root, "missing.json")), runId: "r1", refreshEveryMs: 60_000 })).rejects.toThrow(
      /cannot be read/,
    );
  });
});
