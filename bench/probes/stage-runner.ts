/**
 * Probe (issue 16, target 2): N tasks through two no-op agent stages on
 * MemoryStore and on LowdbStore, in one process run, as tasks per second
 * and as the ratio LowdbStore / MemoryStore time. Not the bench (bench/run.ts
 * owns the recorded figures); a quick side-by-side while changing the runner.
 * Same settings as the bench's `stages` scenario (bench/systems/taskloom.ts
 * prepareStages): async no-op agents, tasks `{ id, data: { i } }`, the
 * default `maxConcurrency` (8) unless given, a fresh store per run.
 *
 *   node --import tsx bench/probes/stage-runner.ts [N=10000] [batchSize=300] [maxConcurrency=default] [memory|lowdb|both]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunStore } from "../../src/index.js";
import { taskloom } from "../taskloom-lib.js";
import { noOpStageRunner } from "../stage-workflow.js";

const { LowdbStore, MemoryStore } = taskloom;

const N = Number(process.argv[2] ?? 10_000);
const BATCH = Number(process.argv[3] ?? 300);
const CONCURRENCY = process.argv[4] === undefined || process.argv[4] === "default" ? undefined : Number(process.argv[4]);
const STORES = process.argv[5] ?? "both";

/** CPU time (user + system, ms) of each store's run: steadier than wall time on a shared machine. */
const cpuMs: Record<string, number> = {};

async function once(store: RunStore, name: string): Promise<number> {
  const runner = noOpStageRunner(store);
  const tasks = Array.from({ length: N }, (_, i) => ({ id: `t${i}`, data: { i } }));
  const started = performance.now();
  const cpu = process.cpuUsage();
  const report = await runner.runAsync({ tasks, runId: "probe", batchSize: BATCH, ...(CONCURRENCY !== undefined && { maxConcurrency: CONCURRENCY }) });
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  cpuMs[name] = (used.user + used.system) / 1000;
  if (report.completed !== N)
    throw new Error(`only ${report.completed} of ${N} completed (${report.failed.length} failed: ${report.failed[0]?.error?.message})`);
  await store.close();
  return ms;
}

const memMs = STORES === "lowdb" ? NaN : await once(new MemoryStore(), "memory");
const dir = mkdtempSync(join(tmpdir(), "taskloom-probe-stages-"));
let lowMs: number;
try {
  lowMs = STORES === "memory" ? NaN : await once(new LowdbStore({ dir }), "lowdb");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const rate = (ms: number): string => `${Math.round((N / ms) * 1000)} tasks/s`;
console.log(`N=${N} batch=${BATCH} maxConcurrency=${CONCURRENCY ?? "default (8)"}`);
console.log(`MemoryStore: ${memMs.toFixed(0)} ms, ${rate(memMs)} (target >= 5000); cpu ${cpuMs.memory?.toFixed(0)} ms`);
console.log(`LowdbStore:  ${lowMs.toFixed(0)} ms, ${rate(lowMs)} (target >= 2000); cpu ${cpuMs.lowdb?.toFixed(0)} ms`);
console.log(`ratio LowdbStore / MemoryStore: ${(lowMs / memMs).toFixed(2)}x`);
