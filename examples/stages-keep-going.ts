/**
 * A stage runner that keeps going: sweeps every 200 ms with a per-stage
 * cap, a flaky agent whose failed tasks are retried at later sweeps with a
 * backoff (and reported failed until they succeed), and a clean stop on
 * Ctrl-C-like abort that waits for the agent calls already started.
 *
 *     npm run example:keep-going
 *
 * Runs on a MemoryStore; takes about two seconds.
 */
import { defineWorkflow, MemoryStore, StageRunner } from "../src/index.js";

const workflow = defineWorkflow({
  name: "keep-going",
  stages: [
    { id: "fetch", kind: "agent", pathways: { fetched: "enrich" } },
    { id: "enrich", kind: "agent", pathways: { done: "complete" } },
    { id: "complete", kind: "final" },
  ],
});

const runner = new StageRunner(workflow, { store: new MemoryStore(), backoff: { initialMs: 1, jitter: false } });
let outage = 3; // the enrich service fails its first three sweeps for task t7
runner.stage("fetch", (task) => ({ pathway: "fetched", size: (task.data.n as number) * 10 }));
runner.stage("enrich", async (task, { signal }) => {
  if (task.id === "t7" && outage > 0) {
    outage--;
    throw new Error("enrich service unavailable");
  }
  await new Promise((resolve) => setTimeout(resolve, 5));
  signal.throwIfAborted();
  return "done";
});

const started = Date.now();
runner.events.on("sweep:start", (e) => console.log(`sweep ${e.sweep} at ${Math.round((Date.now() - started) / 100) * 100} ms`));
runner.events.on("task:end", (e) => {
  if (e.task.state === "failed") console.log(`  ${e.task.taskId} failed (${e.task.error?.cause?.message ?? e.task.error?.message}); retried at a later sweep`);
});
runner.events.on("sweep:end", (e) => console.log(`  processed ${e.processed}`));

const controller = new AbortController();
const tasks = Array.from({ length: 12 }, (_, i) => ({ id: `t${i}`, data: { n: i } }));
const running = runner.runAsync({
  tasks,
  runId: "keep-going",
  numRetries: 0, // one attempt per sweep, to show the sweep retries
  maxTasksPerStage: 5, // at most 5 tasks per stage per sweep, counting those flowing in from fetch
  refreshEveryMs: 200,
  retryFailed: { initialMs: 200, factor: 2, maxMs: 1_000, maxRetries: 5 }, // 200 ms, 400 ms, 800 ms, then 1 s
  signal: controller.signal,
});
setTimeout(() => controller.abort(), 2_500); // as on Ctrl-C: no new agent call starts; started ones end first
const report = await running;
console.log(`stopped after ${report.sweeps} sweeps: ${report.completed} completed, ${report.failed.length} failed, moves ${JSON.stringify(report.moves)}`);
