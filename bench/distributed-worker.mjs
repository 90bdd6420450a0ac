// A worker process of bench:distributed: serves the fan-out graphs of sizes SIZES on QUEUE under PREFIX.
import { createWorker } from "../dist/adapters/bullmq/index.js";
import { fanOut } from "./distributed-graph.mjs";

const worker = createWorker({
  connection: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  prefix: process.env.PREFIX,
  queue: process.env.QUEUE,
  graphs: process.env.SIZES.split(",").map((n) => fanOut(Number(n))),
  concurrency: Number(process.env.CONCURRENCY),
});
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));
