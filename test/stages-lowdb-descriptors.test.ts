/**
 * A stage runner on a `LowdbStore` drives each task as its own durable
 * run: a finished task's run keeps no file open, so one `runAsync` of
 * many tasks (the people it is for have tens of thousands) never runs
 * the process out of descriptors. Each task run's journal used to stay
 * open until the store was closed: a descriptor per task.
 */
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { defineWorkflow, LowdbStore, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "descriptors",
  stages: [
    { id: "first", kind: "agent", pathways: { next: "second" } },
    { id: "second", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

describe.runIf(process.platform === "linux")("StageRunner on LowdbStore: descriptors", () => {
  it("holds no descriptor per finished task after runAsync, before the store is closed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taskloom-stage-fds-"));
    try {
      const store = new LowdbStore({ dir });
      const runner = new StageRunner(workflow, { store });
      runner.stage("first", async () => "next");
      runner.stage("second", async () => "done");
      const tasks = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, data: { i } }));
      const before = readdirSync("/proc/self/fd").length;
      const report = await runner.runAsync({ tasks, runId: "fds" });
      expect(report.completed).toBe(60);
      expect(readdirSync("/proc/self/fd").length - before).toBeLessThan(5);
      await store.close();
      // Every task's moves were saved: a fresh store reads every run as succeeded.
      const fresh = new LowdbStore({ dir });
      const runs = await fresh.list({ status: "succeeded" });
      expect(runs).toHaveLength(60);
      await fresh.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
