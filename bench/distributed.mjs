// bench:distributed: a 10,000-node fan-out (no-op bodies) through the BullMQ executor on 1, 2
// and 4 local worker processes, against the embedded executor (bodies in the coordinator), in
// the same run. Every system runs with maxConcurrency 64 (each worker takes up to 64 jobs, so
// the run's limit is the bound) on a MemoryStore, so the ratios are the cost of carrying
// bodies over Redis; a last row adds the RedisStore. Median of ROUNDS (default 3) after one
// warm-up round per configuration. Needs Redis at REDIS_URL (default redis://127.0.0.1:6379).
// Run with `npm run bench:distributed` (it builds dist first).
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { MemoryStore, runAsync } from "../dist/index.js";
import { bullmqExecutor, RedisStore } from "../dist/adapters/bullmq/index.js";
import { fanOut } from "./distributed-graph.mjs";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const N = Number(process.env.N ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = 64;
const PREFIX = `tl-bench-${process.pid}`;
const QUEUE = "bench";
const graphOf = fanOut(N);
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function dropPrefix() {
  const client = new Redis(REDIS_URL);
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await client.del(...keys);
  } while (cursor !== "0");
  client.disconnect();
}

function startWorkers(k) {
  const script = fileURLToPath(new URL("distributed-worker.mjs", import.meta.url));
  return Promise.all(
    Array.from({ length: k }, () => {
      const child = spawn(process.execPath, [script], {
        env: { ...process.env, REDIS_URL, PREFIX, QUEUE, SIZES: String(N), CONCURRENCY: String(CONCURRENCY) },
        stdio: ["ignore", "pipe", "inherit"],
      });
      return new Promise((resolve, reject) => {
        child.stdout.on("data", (d) => d.toString().includes("ready") && resolve(child));
        child.once("exit", (code) => reject(new Error(`worker exited with ${code}`)));
      });
    }),
  );
}

async function stopWorkers(children) {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once("exit", r)))));
}

async function timed(runOnce) {
  await runOnce("warm");
  const ts = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    await runOnce(String(r));
    ts.push(performance.now() - t);
  }
  return med(ts);
}

const load0 = loadavg()[0];
const rows = [];
const embedded = await timed(() => runAsync(graphOf, undefined, { store: new MemoryStore(), maxConcurrency: CONCURRENCY }));
rows.push(["embedded executor, MemoryStore", embedded]);
// The floor: BullMQ alone, the same number of jobs, 64 in flight, a no-op processor in this process,
// each job awaited through the worker's "completed" event (no taskloom on either side).
{
  const connection = { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379), maxRetriesPerRequest: null };
  const waiters = new Map();
  const worker = new Worker("raw", async () => 1, { connection, prefix: PREFIX, concurrency: CONCURRENCY });
  worker.on("completed", (job) => waiters.get(job.id)?.());
  const queue = new Queue("raw", { connection, prefix: PREFIX });
  await worker.waitUntilReady();
  let round = 0;
  const raw = await timed(async () => {
    let next = 0;
    const r = round++;
    const lane = async () => {
      while (next < N + 2) {
        const jobId = `r${r}-${next++}`;
        const done = new Promise((resolve) => waiters.set(jobId, resolve));
        await queue.add("x", { i: next }, { jobId, removeOnComplete: true });
        await done;
        waiters.delete(jobId);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  });
  rows.push(["BullMQ alone (no taskloom), worker in this process", raw]);
  await worker.close();
  await queue.close();
}
let id = 0;
for (const k of [1, 2, 4]) {
  const workers = await startWorkers(k);
  const executor = bullmqExecutor({ connection: REDIS_URL, prefix: PREFIX, queue: QUEUE });
  try {
    rows.push([
      `bullmq, ${k} worker process${k > 1 ? "es" : ""}, MemoryStore`,
      await timed(() => runAsync(graphOf, undefined, { runId: `b${k}-${id++}`, store: new MemoryStore(), executor, maxConcurrency: CONCURRENCY })),
    ]);
    if (k === 4) {
      const store = new RedisStore({ connection: REDIS_URL, prefix: PREFIX });
      rows.push([
        `bullmq, 4 worker processes, RedisStore`,
        await timed(() => runAsync(graphOf, undefined, { runId: `r${k}-${id++}`, store, executor, maxConcurrency: CONCURRENCY })),
      ]);
      await store.close();
    }
  } finally {
    await executor.close();
    await stopWorkers(workers);
  }
}
await dropPrefix();
console.log(
  `fan-out of ${N.toLocaleString("en")} no-op nodes, maxConcurrency ${CONCURRENCY}, median of ${ROUNDS} (load average ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)})`,
);
console.log(`| system | ms | nodes/s | time vs embedded |`);
console.log(`|---|---:|---:|---:|`);
for (const [label, ms] of rows) {
  console.log(`| ${label} | ${ms.toFixed(0)} | ${Math.round(((N + 2) / ms) * 1000).toLocaleString("en")} | ${(ms / embedded).toFixed(1)}× |`);
}
