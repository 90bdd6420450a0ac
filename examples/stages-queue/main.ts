/**
 * `npm run example:stages-queue`: agent stages fed by a queue. The
 * coordinator (this process) serves no agent for `pre-label`, so its tasks
 * wait there, durably, in a Redis store; it lists them with
 * `runner.tasksAt` and enqueues them on BullMQ; two worker processes run
 * the stage's job handler and apply each result with `runner.apply`; the
 * coordinator's next sweep moves the tasks on. A reviewer then approves
 * (with data), and a last sweep completes them.
 *
 * Needs Redis at REDIS_URL (default redis://127.0.0.1:6379). TASKS sets
 * how many tasks (default 200), PREFIX the Redis key prefix, RUN_ID the run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { MemoryTaskSource, StageRunner } from "../../src/index.js";
import { RedisStore } from "../../src/adapters/bullmq/index.js";
import { PREFIX, QUEUE, REDIS_URL, workflow, type Doc } from "./workflow.js";

const runId = process.env.RUN_ID ?? `queue-${Date.now()}`;
const count = Number(process.env.TASKS ?? 200);

// Redis first: one line, not a stream of connection errors, when it is not there.
const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
probe.on("error", () => undefined);
try {
  await probe.connect();
} catch {
  console.error(`error: Redis is not reachable at ${REDIS_URL}; start one (redis-server, or docker run -p 6379:6379 redis) or set REDIS_URL`);
  process.exit(1);
}
probe.disconnect();

const perWorker = new Map<number, number>();
function start(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("worker.ts", import.meta.url))], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (line.endsWith(": ready")) resolve(child);
        else if (line.includes(" → ")) perWorker.set(child.pid ?? 0, (perWorker.get(child.pid ?? 0) ?? 0) + 1);
      }
    });
    child.once("exit", (code) => reject(new Error(`a worker exited (${code}) before it was ready`)));
  });
}

const workers = await Promise.all([start(), start()]);
const store = new RedisStore({ connection: REDIS_URL, prefix: PREFIX });
const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const queue = new Queue(QUEUE, { connection, prefix: PREFIX });
// No agent for pre-label in this process: a queue feeds that stage.
const runner = new StageRunner<Doc>(workflow, { store });
const source = new MemoryTaskSource(
  Array.from({ length: count }, (_, i) => ({ id: `doc-${String(i).padStart(4, "0")}`, data: { text: i % 10 === 0 ? "" : `Invoice number ${i}` } })),
);

async function drained(): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    if (Object.values(counts).every((n) => n === 0)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

try {
  const started = Date.now();
  const took = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;
  for (let round = 1; ; round++) {
    const sweep = Date.now();
    await runner.runAsync({ tasks: source, runId }); // moves the tasks whose results were applied
    console.log(`sweep ${round}: ${took(sweep)}`);
    let enqueued = 0;
    let after: string | undefined;
    const listing = Date.now();
    for (;;) {
      const due = await runner.tasksAt("pre-label", { runId, limit: 500, ...(after !== undefined && { after }) });
      if (due.length === 0) break;
      // The job id names the task's wait: a task listed twice is queued once.
      await queue.addBulk(due.map((d) => ({ name: runId, data: d.spec, opts: { jobId: d.jobId, removeOnComplete: true, removeOnFail: 100 } })));
      enqueued += due.length;
      after = due.at(-1)?.taskId;
    }
    if (enqueued === 0) break;
    console.log(`round ${round}: ${enqueued} tasks queued for pre-label (listed and enqueued in ${took(listing)})`);
    const queued = Date.now();
    await drained();
    console.log(`round ${round}: the workers applied ${enqueued} results in ${took(queued)}`);
  }
  const reviewing = Date.now();
  const inReview = await runner.tasks(runId, { stage: "review" });
  for (const t of inReview) await runner.act(runId, t.taskId, "approve", { assignee: "ann", data: { checked: true } });
  console.log(`review: ${inReview.length} approvals in ${took(reviewing)}`);
  const last = Date.now();
  const report = await runner.runAsync({ tasks: source, runId });
  console.log(`last sweep: ${took(last)}`);
  const seconds = (Date.now() - started) / 1000;
  console.log(`done in ${seconds.toFixed(1)} s: ${JSON.stringify(report.byStage)}, ${report.failed.length} failed`);
  console.log(`jobs per worker: ${[...perWorker.values()].join(", ")}`);
  console.log(`example: ${JSON.stringify(source.tasks().find((t) => t.id === "doc-0001"))}`);
  process.exitCode = report.failed.length === 0 && report.completed === count ? 0 : 1;
} finally {
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once("exit", resolve)))));
  await queue.close();
  connection.disconnect();
  await store.close();
}
