// The raw BullMQ worker process of bench:distributed: BullMQ alone, no taskloom, a no-op
// processor on queue RAW_QUEUE under PREFIX with CONCURRENCY jobs at once.
import { Worker } from "bullmq";

const url = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
const worker = new Worker(process.env.RAW_QUEUE, async () => 1, { connection, prefix: process.env.PREFIX, concurrency: Number(process.env.CONCURRENCY) });
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));
