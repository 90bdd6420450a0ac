/**
 * One worker per stage: a three-stage agent workflow (model → rules → qa)
 * served by two processes that share one LowdbStore folder. Worker "gpu"
 * serves the model and qa stages, worker "cpu" the rules stage; each task
 * waits, durably, at a stage its current worker does not serve until the
 * other worker picks it up. Each worker sweeps every 50 ms until every task
 * completed and prints what it did; the parent then checks, from the
 * store, that every task moved exactly once per stage.
 *
 *     npm run example:two-workers            # 200 tasks
 *     npm run example:two-workers -- 1000    # 1,000 tasks, with the throughput
 *
 * Runs in a temporary store folder and removes it at the end.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineWorkflow, getRun, LowdbStore, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "two-workers",
  stages: [
    { id: "model", kind: "agent", pathways: { labelled: "rules" } },
    { id: "rules", kind: "agent", pathways: { ok: "qa", odd: "qa" } },
    { id: "qa", kind: "agent", pathways: { pass: "complete" } },
    { id: "complete", kind: "final" },
  ],
});
const RUN_ID = "two-workers";

/** What a worker process prints when it is done. */
interface WorkerReport {
  readonly worker: string;
  readonly sweeps: number;
  readonly processed: number;
  readonly moves: Record<string, number>;
}

/** A worker: serves some stages until every task completed. */
async function worker(name: string, dir: string, n: number): Promise<WorkerReport> {
  const runner = new StageRunner(workflow, { store: new LowdbStore({ dir }) });
  if (name === "gpu") {
    runner.stage("model", (task) => ({ pathway: "labelled", label: `label-${String(task.data.n)}` }));
    runner.stage("qa", () => "pass");
  } else {
    runner.stage("rules", (task) => ((task.data.n as number) % 7 === 0 ? "odd" : "ok"));
  }
  const tasks = Array.from({ length: n }, (_, i) => ({ id: `t${i}`, data: { n: i } }));
  const did: WorkerReport = { worker: name, sweeps: 0, processed: 0, moves: {} };
  for (;;) {
    const report = await runner.runAsync({ tasks, runId: RUN_ID, batchSize: 100, maxConcurrency: 16 });
    Object.assign(did, { sweeps: did.sweeps + 1, processed: did.processed + report.processed });
    for (const [stage, count] of Object.entries(report.moves)) did.moves[stage] = (did.moves[stage] ?? 0) + count;
    if (report.completed === n) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await runner.store.close();
  return did;
}

/** Starts this file as a worker process and resolves to what it printed. */
function spawnWorker(name: string, dir: string, n: number): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "worker", name, dir, String(n)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(out) as WorkerReport) : reject(new Error(`worker ${name} exited with ${String(code)}`))));
  });
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "worker") {
  const [name, dir, n] = rest as [string, string, string];
  process.stdout.write(JSON.stringify(await worker(name, dir, Number(n))));
} else {
  const n = Number(mode ?? 200);
  const dir = mkdtempSync(join(tmpdir(), "taskloom-example-two-workers-"));
  try {
    const started = performance.now();
    const reports = await Promise.all([spawnWorker("gpu", dir, n), spawnWorker("cpu", dir, n)]);
    const seconds = (performance.now() - started) / 1000;
    for (const r of reports) console.log(`worker ${r.worker}: ${r.processed} task processings in ${r.sweeps} sweeps, moves ${JSON.stringify(r.moves)}`);
    // Every task moved exactly once out of each stage: one succeeded activation per stage in its run.
    const store = new LowdbStore({ dir });
    let once = 0;
    for (let i = 0; i < n; i++) {
      const run = await getRun(`${RUN_ID}.t${i}`, { store });
      const moved = run.nodes.filter((node) => node.status === "succeeded" && workflow.stage(node.nodeId)?.kind === "agent").map((node) => node.nodeId);
      if (run.status === "succeeded" && moved.sort().join() === "model,qa,rules") once++;
    }
    await store.close();
    console.log(`${n} tasks through 3 agent stages in 2 processes: ${seconds.toFixed(1)} s (${Math.round(n / seconds)} tasks/s, including start-up)`);
    console.log(`tasks whose every move was saved exactly once: ${once} of ${n}`);
    if (once !== n) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
