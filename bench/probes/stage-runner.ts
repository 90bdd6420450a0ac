/**
 * Probe (issue 16, target 2): N tasks through two no-op agent stages on
 * MemoryStore and on LowdbStore, in one process run, as tasks per second
 * and as the ratio LowdbStore / MemoryStore time. Not the bench (bench/run.ts
 * owns the recorded figures); a quick side-by-side while changing the runner.
 *
 *   node --import tsx bench/probes/stage-runner.ts [N=10000] [batchSize=300]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineWorkflow, LowdbStore, MemoryStore, StageRunner, type RunStore } from "../../src/index.js";

const N = Number(process.argv[2] ?? 10_000);
const BATCH = Number(process.argv[3] ?? 300);

const workflow = defineWorkflow({
  name: "probe",
  stages: [
    { id: "a", kind: "agent", pathways: { next: "b" } },
    { id: "b", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

async function once(store: RunStore): Promise<number> {
  const runner = new StageRunner(workflow, { store });
  runner.stage("a", () => "next");
  runner.stage("b", () => "done");
  const tasks = Array.from({ length: N }, (_, i) => ({ id: `t${i}`, data: {} }));
  const started = performance.now();
  const report = await runner.runAsync({ tasks, runId: "probe", batchSize: BATCH, maxConcurrency: 64 });
  const ms = performance.now() - started;
  if (report.completed !== N)
    throw new Error(`only ${report.completed} of ${N} completed (${report.failed.length} failed: ${report.failed[0]?.error?.message})`);
  await store.close();
  return ms;
}

const memMs = await once(new MemoryStore());
const dir = mkdtempSync(join(tmpdir(), "taskloom-probe-stages-"));
let lowMs: number;
try {
  lowMs = await once(new LowdbStore({ dir }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const rate = (ms: number): string => `${Math.round((N / ms) * 1000)} tasks/s`;
console.log(`N=${N} batch=${BATCH}`);
console.log(`MemoryStore: ${memMs.toFixed(0)} ms, ${rate(memMs)} (target >= 5000)`);
console.log(`LowdbStore:  ${lowMs.toFixed(0)} ms, ${rate(lowMs)} (target >= 2000)`);
console.log(`ratio LowdbStore / MemoryStore: ${(lowMs / memMs).toFixed(2)}x`);
