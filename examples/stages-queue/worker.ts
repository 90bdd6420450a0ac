/**
 * A queue worker of the stages queue example: takes `pre-label` jobs from
 * BullMQ, runs the stage's job handler (the agent, with its providers and
 * retries), and applies the result to the durable task with
 * `runner.apply`. The job's name is the runner run id; its data is the
 * spec `runner.tasksAt` made. A result that is stale (the task moved on,
 * say a job delivered twice after a worker died) is dropped.
 */
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { StageRunner, StaleJobResultError } from "../../src/index.js";
import { RedisStore } from "../../src/adapters/bullmq/index.js";
import { preLabel, PREFIX, QUEUE, REDIS_URL, workflow, type Doc } from "./workflow.js";

const store = new RedisStore({ connection: REDIS_URL, prefix: PREFIX });
const runner = new StageRunner<Doc>(workflow, { store });
runner.stage("pre-label", preLabel);
const handlers = runner.toJobHandlers({ numRetries: 2 });
const preLabelJob = handlers["pre-label"]!;

const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const worker = new Worker<string, string>(
  QUEUE,
  async (job) => {
    const result = await preLabelJob(job.data);
    try {
      const applied = await runner.apply(job.name, result);
      console.log(`worker ${process.pid}: ${applied.taskId} → ${applied.pathway ?? "stays"}${applied.applied ? "" : " (already applied)"}`);
    } catch (error) {
      if (!(error instanceof StaleJobResultError)) throw error;
      console.log(`worker ${process.pid}: dropped a stale result: ${error.message}`);
    }
    return result;
  },
  {
    connection,
    prefix: PREFIX,
    concurrency: 8,
    // How soon a dead worker's jobs go back to the queue (BullMQ's lock and stalled check; the tests shorten them).
    ...(process.env.LOCK_MS !== undefined && { lockDuration: Number(process.env.LOCK_MS), stalledInterval: Number(process.env.LOCK_MS) }),
  },
);
await worker.waitUntilReady();
console.log(`worker ${process.pid}: ready`);
process.on("SIGTERM", () => {
  void (async () => {
    await worker.close();
    await store.close();
    connection.disconnect();
    process.exit(0);
  })();
});
