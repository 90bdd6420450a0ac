/**
 * The coordinator of the distributed example: calls `runAsync` as for a
 * local run, with a RedisStore (so another coordinator could resume the
 * run) and the BullMQ executor (so node bodies run in the workers).
 */
import { runAsync } from "../../src/index.js";
import { bullmqExecutor, RedisStore } from "../../src/adapters/bullmq/index.js";
import { thumbnails } from "./graphs.js";

const connection = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const store = new RedisStore({ connection });
const executor = bullmqExecutor({ connection, queue: "example-distributed" });
const runId = process.env.RUN_ID ?? `thumbs-${Date.now()}`;
try {
  const out = await runAsync(thumbnails, { album: "holiday", count: 24 }, { runId, store, executor, maxConcurrency: 8 });
  console.log(`coordinator ${process.pid}: run ${runId} made ${out.thumbnails.length} thumbnails on ${out.workers} workers`);
  console.log(`  first: ${out.thumbnails[0]}`);
} finally {
  await executor.close();
  await store.close();
}
