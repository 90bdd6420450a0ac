/**
 * A labeling workflow as annotation platforms run it: a pre-label agent
 * proposes a label, a person reviews it (approve, or reject back to
 * pre-label), and the task completes. Empty items are archived by the
 * agent without review. The people's actions are taken programmatically
 * here; in real life they come from a UI or a webhook, in another process.
 *
 *     npm run example:stages
 *
 * Runs in a temporary store folder and removes it at the end.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineWorkflow, LowdbStore, MemoryTaskSource, StageRunner, type Provider, type StageRunReport } from "../src/index.js";

const workflow = defineWorkflow({
  name: "labeling",
  stages: [
    { id: "pre-label", title: "Pre-label", kind: "agent", pathways: { review: "review", empty: "archive" } },
    { id: "review", title: "Human review", kind: "review", pathways: { approve: "complete", reject: "pre-label" }, maxVisits: 3 },
    { id: "complete", title: "Complete", kind: "final" },
    { id: "archive", title: "Archive", kind: "final" },
  ],
});

/** A stand-in for a model client: made once per task, closed after it. */
interface Model {
  label(text: string, visit: number): string;
}
const provideModel: Provider<Model> = async (task) => ({
  value: { label: (text, visit) => (visit === 1 ? (text.split(" ")[0] ?? "") : text.toUpperCase()) },
  dispose: () => console.log(`    (model for ${task.id} closed)`),
});

const dir = mkdtempSync(join(tmpdir(), "taskloom-example-stages-"));
const store = new LowdbStore({ dir });
const runner = new StageRunner(workflow, { store });

runner.stage(
  "Pre-label",
  async (task, { deps, visit }) => {
    const text = typeof task.data.text === "string" ? task.data.text : "";
    if (text === "") return "empty";
    return { pathway: "review", label: deps.model.label(text, visit) };
  },
  { deps: { model: provideModel } },
);
runner.events.on("task:move", (e) => console.log(`  ${e.taskId}: ${e.from} → ${e.to} (${e.pathway})`));

const source = new MemoryTaskSource([
  { id: "img-1", data: { text: "cat on a mat" } },
  { id: "img-2", data: { text: "dog in fog" } },
  { id: "img-3", data: { text: "" } },
  { id: "img-4", data: { text: "bird on a wire" } },
]);

function show(title: string, report: StageRunReport): void {
  console.log(`${title}: ${report.completed} completed, ${report.waiting} waiting for review, ${report.failed.length} failed`);
  for (const t of report.tasks) {
    const label = typeof t.data.label === "string" ? t.data.label : "-";
    console.log(`    ${t.taskId.padEnd(6)} ${t.stageId.padEnd(9)} ${t.status.padEnd(9)} label=${label}`);
  }
}

const runId = "labeling-demo";
try {
  console.log("sweep 1: the agent pre-labels every task");
  show("after sweep 1", await runner.runAsync({ tasks: source, runId, numRetries: 2, maxConcurrency: 2 }));

  console.log("\nreviewers act (from any process that opens the same store):");
  await runner.act(runId, "img-1", "approve", { assignee: "ann" });
  await runner.act(runId, "img-2", "reject", { assignee: "bob" });
  await runner.act(runId, "img-4", "assign", { assignee: "ann" });
  try {
    await runner.act(runId, "img-3", "approve");
  } catch (error) {
    console.log(`  refused: ${(error as Error).message}`);
  }

  console.log("\nsweep 2: approved tasks complete, the rejected one goes back to pre-label and returns to review");
  show("after sweep 2", await runner.runAsync({ tasks: source, runId }));

  await runner.act(runId, "img-2", "approve", { assignee: "bob" });
  await runner.act(runId, "img-4", "approve", { assignee: "ann" });
  console.log("\nsweep 3:");
  show("after sweep 3", await runner.runAsync({ tasks: source, runId }));

  const handlers = runner.toJobHandlers();
  console.log("\nthe pre-label agent as a JSON job handler, for any queue:");
  console.log(`  ${await handlers["pre-label"]!(JSON.stringify({ id: "img-9", data: { text: "fish in a dish" } }))}`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
