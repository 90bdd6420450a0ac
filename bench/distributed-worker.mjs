// A worker process of bench:distributed: serves the no-op fan-outs of sizes SIZES and the
// I/O-bound fan-outs of sizes IO_SIZES (bodies waiting IO_MS) on QUEUE under PREFIX, running
// at most CONCURRENCY bodies at once.
import { createWorker } from "../dist/adapters/bullmq/index.js";
import { fanOut, ioFanOut } from "./distributed-graph.mjs";

const sizes = (v) => (v ? v.split(",").map(Number) : []);
const worker = createWorker({
  connection: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  prefix: process.env.PREFIX,
  queue: process.env.QUEUE,
  graphs: [...sizes(process.env.SIZES).map((n) => fanOut(n)), ...sizes(process.env.IO_SIZES).map((n) => ioFanOut(n, Number(process.env.IO_MS)))],
  concurrency: Number(process.env.CONCURRENCY),
});
await worker.waitUntilReady();
process.stdout.write("ready\n");
process.on("SIGTERM", () => void worker.close().then(() => process.exit(0)));
