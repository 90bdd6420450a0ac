/**
 * The stage runner's workload of the bench and its probes (issue 16,
 * target 2): two no-op agent stages, then a final stage, so every task
 * makes two moves.
 *
 * @module
 */
import type { RunStore, StageRunner as Runner } from "../src/index.js";
import { taskloom } from "./taskloom-lib.js";

const { defineWorkflow, StageRunner } = taskloom;

/** Two no-op agent stages, then a final stage. */
export const STAGE_WORKFLOW = defineWorkflow({
  name: "bench-stages",
  stages: [
    { id: "first", kind: "agent", pathways: { next: "second" } },
    { id: "second", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

/** A `StageRunner` of {@link STAGE_WORKFLOW} on `store` with its two no-op agents (async ones, as the bench's, unless `sync`). */
export function noOpStageRunner(store: RunStore, sync = false): Runner {
  const runner = new StageRunner(STAGE_WORKFLOW, { store });
  if (sync) {
    runner.stage("first", () => "next");
    runner.stage("second", () => "done");
  } else {
    runner.stage("first", async () => "next");
    runner.stage("second", async () => "done");
  }
  return runner;
}
