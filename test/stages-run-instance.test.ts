/**
 * A task's run deleted and started again under the same id never takes a
 * queue result meant for the deleted run. `runner.tasksAt` names each due
 * task's job by the task, its wait and the mark of the task's run
 * (`RunMeta.instance`), and puts the mark in the spec, which the job
 * handler echoes in its result. Before the mark, the job id was
 * `<runId>/<taskId>/<key>` alone: a queue still holding the deleted run's
 * job (BullMQ dedupes by job id, finished jobs included while kept)
 * dropped the new run's job, and `runner.apply` wrote the old job's result,
 * computed from the deleted run's data, into the new run's wait of the
 * same key.
 */
import { describe, expect, it } from "vitest";
import { defineWorkflow, deleteRun, MemoryStore, MemoryTaskSource, StageRunner, StaleJobResultError, type JobResult } from "../src/index.js";
import { taskRunId } from "../src/stages/task-run-id.js";
import { rejection } from "./support/async.js";

const labeling = defineWorkflow({
  name: "labeling-instance",
  stages: [
    { id: "pre-label", kind: "agent", pathways: [{ name: "done", to: "complete" }] },
    { id: "complete", kind: "final" },
  ],
});

/** The coordinator: no agent for pre-label, so a queue feeds it. */
function coordinator(store: MemoryStore) {
  return new StageRunner<{ text: string; label?: string }>(labeling, { store, backoff: { initialMs: 1, factor: 1, jitter: false } });
}

/** A worker's job handlers: the agent labels a task with its text in capitals. */
function handlers() {
  const worker = new StageRunner<{ text: string }>(labeling);
  worker.stage("pre-label", (task) => ({ pathway: "done", label: task.data.text.toUpperCase() }));
  return worker.toJobHandlers();
}

describe("queue results of a task's run deleted and started again under its id", () => {
  it("get another job id, and are refused by apply with StaleJobResultError; the new run's own result moves the task", async () => {
    const store = new MemoryStore();
    const runner = coordinator(store);
    await runner.runAsync({ tasks: new MemoryTaskSource([{ id: "t1", data: { text: "old" } }]), runId: "s1" });
    const [before] = await runner.tasksAt("pre-label", { runId: "s1" });
    expect(before!.instance).toMatch(/^[0-9a-f]{12}$/);
    expect(before!.jobId).toBe(`s1/t1/${encodeURIComponent(before!.key)}/${before!.instance!}`);
    expect(JSON.parse(before!.spec)).toMatchObject({ id: "t1", key: before!.key, instance: before!.instance });
    const oldResult = await handlers()["pre-label"]!(before!.spec);
    expect(JSON.parse(oldResult)).toMatchObject({ success: true, updates: { label: "OLD" }, instance: before!.instance, key: before!.key });

    // The task's run is deleted, and the batch started again with the task's new data.
    expect(await deleteRun(taskRunId("s1", "t1"), { store })).toBe(true);
    const source = new MemoryTaskSource([{ id: "t1", data: { text: "new" } }]);
    await runner.runAsync({ tasks: source, runId: "s1" });
    const [after] = await runner.tasksAt("pre-label", { runId: "s1" });
    expect(after!.key).toBe(before!.key); // the same wait key: only the mark tells the two runs apart
    expect(after!.instance).not.toBe(before!.instance);
    expect(after!.jobId).not.toBe(before!.jobId);

    const stored = JSON.stringify((await store.load(taskRunId("s1", "t1")))?.state);
    const stale = await rejection(runner.apply("s1", oldResult));
    expect(stale).toBeInstanceOf(StaleJobResultError);
    expect(stale).toMatchObject({ code: "STALE_JOB_RESULT", taskId: "t1", stageId: "pre-label" });
    expect((stale as Error).message).toContain("deleted since");
    expect(JSON.stringify((await store.load(taskRunId("s1", "t1")))?.state)).toBe(stored); // nothing written

    const result = await handlers()["pre-label"]!(after!.spec);
    expect(await runner.apply("s1", result)).toMatchObject({ taskId: "t1", applied: true, key: after!.key });
    await runner.runAsync({ tasks: source, runId: "s1" });
    expect(source.tasks()[0]).toMatchObject({ stageId: "complete", data: { text: "new", label: "NEW" } });
  });

  it("still applies a result without a mark (a spec from before the mark was kept), and refuses a mark that is not text", async () => {
    const store = new MemoryStore();
    const runner = coordinator(store);
    await runner.runAsync({ tasks: new MemoryTaskSource([{ id: "t2", data: { text: "x" } }]), runId: "s2" });
    const [due] = await runner.tasksAt("pre-label", { runId: "s2" });
    const { instance: _mark, ...unmarked } = JSON.parse(await handlers()["pre-label"]!(due!.spec)) as JobResult;
    expect(await rejection(runner.apply("s2", { ...unmarked, instance: 7 } as unknown as JobResult))).toMatchObject({ code: "INVALID_OPTION" });
    expect(await runner.apply("s2", unmarked)).toMatchObject({ applied: true });
  });
});
