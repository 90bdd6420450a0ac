/**
 * Audit: two people act on one task at the same moment. The docs promise
 * that once an action is recorded, a second action on the same task is
 * refused (`ActionNotAllowedError`) until the next sweep: the check and
 * the write must be one step, so that of two concurrent actions exactly
 * one is recorded and the other is refused, never silently replaced.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ActionNotAllowedError, defineWorkflow, LowdbStore, MemoryStore, StageRunner, type RunStore } from "../src/index.js";

const workflow = defineWorkflow({
  name: "audit-people",
  stages: [
    { id: "review", kind: "review", pathways: { approve: "approved", reject: "rejected" } },
    { id: "approved", kind: "final" },
    { id: "rejected", kind: "final" },
  ],
});

const root = mkdtempSync(join(tmpdir(), "taskloom-stages-audit-people-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.each([
  ["MemoryStore", (): RunStore => new MemoryStore()],
  ["LowdbStore", (): RunStore => new LowdbStore({ dir: mkdtempSync(join(root, "store-")) })],
])("two actions at once on one task (%s)", (_name, makeStore) => {
  it("records exactly one; the other is refused with ActionNotAllowedError, and the task moves by the recorded one", async () => {
    const runner = new StageRunner(workflow, { store: makeStore() });
    const ids = ["t1", "t2", "t3", "t4"];
    await runner.runAsync({ tasks: ids.map((id) => ({ id })), runId: "r1" });
    for (const id of ids) {
      const results = await Promise.allSettled([runner.act("r1", id, "approve", { assignee: "ann" }), runner.act("r1", id, "reject", { assignee: "bob" })]);
      const recorded = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter((r) => r.status === "rejected");
      expect(recorded, id).toHaveLength(1);
      expect(refused, id).toHaveLength(1);
      expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(ActionNotAllowedError);
    }
    const report = await runner.runAsync({ tasks: ids.map((id) => ({ id })), runId: "r1" });
    // Whoever was recorded decided: ann approves, bob rejects; never the one who was told "refused".
    for (const t of report.tasks) expect(t.assignee === "ann" ? "approved" : "rejected", t.taskId).toBe(t.stageId);
  });
});
