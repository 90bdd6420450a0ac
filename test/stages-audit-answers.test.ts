/**
 * Audit: an agent's answer whose updates the store cannot keep (a
 * function, a class instance). The move must not count unsaved, the
 * runner must not break (one bad task never stops the others, and later
 * sweeps and queries of the run go on), and the task fails with a typed
 * error that says what to return instead. A run stored as succeeded
 * without its outputs (`outputsDurable: false`) is still readable.
 */
import { describe, expect, it, vi } from "vitest";
import { defineWorkflow, InvalidOptionError, MemoryStore, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "audit-answers",
  stages: [
    { id: "first", kind: "agent", pathways: { next: "second" } },
    { id: "second", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

class Label {
  constructor(readonly text: string) {}
}

describe("an agent answer with updates the store cannot keep", () => {
  it.each([
    ["a function", () => ({ pathway: "next", format: () => "x" })],
    ["a class instance", () => ({ pathway: "next", label: new Label("cat") })],
    ["a function, without a pathway (staying)", () => ({ format: () => "x" })],
  ])("(%s) fails that task only, with a typed error naming the value; the run stays readable", async (_what, answer) => {
    const store = new MemoryStore();
    const runner = new StageRunner(workflow, { store, backoff: { initialMs: 1, factor: 1, jitter: false } });
    let asked = 0;
    runner.stage("first", async (task) => {
      asked++;
      return task.id === "bad" ? answer() : { pathway: "next", label: "ok" };
    });
    runner.stage("second", async () => "done");
    const tasks = [{ id: "bad" }, { id: "good" }];

    const report = await runner.runAsync({ tasks, runId: "r1", numRetries: 2 });
    expect(report.tasks.find((t) => t.taskId === "good")).toMatchObject({ state: "completed", stageId: "complete" });
    const bad = report.tasks.find((t) => t.taskId === "bad");
    expect(bad).toMatchObject({ state: "failed", stageId: "first" });
    expect(bad?.error?.message ?? "").toMatch(/cannot be stored|store cannot keep/);
    expect(bad?.error?.code).toBeTypeOf("string");
    // Not retried: the same code gives the same answer.
    expect(asked).toBe(2);
    expect(report.moves).toEqual({ first: 1, second: 1 });

    // The run is still readable, and a second call goes on.
    await expect(runner.tasks("r1")).resolves.toHaveLength(2);
    const again = await runner.runAsync({ tasks, runId: "r1", numRetries: 0 });
    expect(again.tasks.find((t) => t.taskId === "bad")?.state).toBe("failed");
  });
});

describe("a task run stored as succeeded without its outputs (outputsDurable: false)", () => {
  it("is reported completed at its final stage, by runAsync, tasks and task, instead of a TypeError", async () => {
    const store = new MemoryStore();
    const runner = new StageRunner(workflow, { store });
    runner.stage("first", async () => ({ pathway: "next", label: "cat" }));
    runner.stage("second", async () => "done");
    await runner.runAsync({ tasks: [{ id: "t1" }], runId: "r1" });
    // As the engine stores a run whose outputs it could not keep (docs/durability.md).
    const id = StageRunner.taskRunId("r1", "t1");
    const stored = await store.load(id);
    if (!stored) throw new Error("no stored run");
    const { outputs: _outputs, ...meta } = stored.state.meta;
    await store.writeSnapshot({ ...stored.state, meta: { ...meta, outputsDurable: false } }, stored.seq);

    const expected = { taskId: "t1", stageId: "complete", status: "COMPLETED", state: "completed" };
    expect(await runner.task("r1", "t1")).toMatchObject(expected);
    expect(await runner.tasks("r1")).toMatchObject([expected]);
    const report = await runner.runAsync({ tasks: [{ id: "t1" }], runId: "r1" });
    expect(report.tasks).toMatchObject([expected]);
  });
});

describe("a job handler whose agent answers with updates JSON cannot hold", () => {
  it("resolves to a failed result naming the value (handlers never reject), for one spec and for a batch", async () => {
    const runner = new StageRunner(workflow, { store: new MemoryStore() });
    runner.stage("first", async (task) => (task.id === "big" ? { pathway: "next", count: 10n } : { pathway: "next", label: "ok" }));
    const handle = runner.toJobHandlers()["first"];
    if (!handle) throw new Error("no handler");
    const one = JSON.parse(await handle(JSON.stringify({ id: "big" }))) as { success: boolean; error: string | null; taskId: string };
    expect(one).toMatchObject({ taskId: "big", success: false, pathway: null, updates: {} });
    expect(one.error).toMatch(/JSON/);
    const batch = JSON.parse(await handle(JSON.stringify([{ id: "big" }, { id: "fine" }]))) as { success: boolean; taskId: string }[];
    expect(batch.map((r) => [r.taskId, r.success])).toEqual([
      ["big", false],
      ["fine", true],
    ]);
  });
});

describe("a job handler's retryDelayMs", () => {
  it("is the delay before the first retry, also above 30 s; one beyond a Node timer is refused", async () => {
    const delays: number[] = [];
    const runner = new StageRunner(workflow, { store: new MemoryStore() });
    let attempts = 0;
    runner.stage("first", async () => {
      if (++attempts === 1) throw new Error("flaky");
      return "next";
    });
    const spy = vi.spyOn(globalThis, "setTimeout").mockImplementation((fn: () => void, ms?: number) => {
      delays.push(ms ?? 0);
      queueMicrotask(fn);
      return 0 as unknown as NodeJS.Timeout;
    });
    try {
      const handle = runner.toJobHandlers({ numRetries: 1, retryDelayMs: 60_000 })["first"];
      const result = JSON.parse(await handle!(JSON.stringify({ id: "t1" }))) as { success: boolean };
      expect(result.success).toBe(true);
    } finally {
      spy.mockRestore();
    }
    expect(delays).toEqual([60_000]);
    expect(() => runner.toJobHandlers({ retryDelayMs: 2 ** 31 })).toThrow(InvalidOptionError);
  });
});
