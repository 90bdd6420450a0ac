/**
 * A worker of the distributed example: runs node bodies of `thumbnails`
 * for any coordinator. The same as `taskloom worker examples/distributed/graphs.ts`.
 */
import { createWorker } from "../../src/adapters/bullmq/index.js";
import { thumbnails } from "./graphs.js";

const worker = createWorker({
  connection: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  queue: "example-distributed",
  graphs: [thumbnails],
  concurrency: 4,
});
await worker.waitUntilReady();
console.log(`worker ${process.pid}: ready`);
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));
