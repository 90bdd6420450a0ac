// bench:distributed (also the last part of `npm run bench`): the BullMQ executor against
// BullMQ alone, on the compiled package. Needs Redis at REDIS_URL (default redis://127.0.0.1:6379).
//
// No-op (issue 16 target 8, per-job overhead): a fan-out of N no-op nodes (1 root → N → 1 join,
// N + 2 jobs), maxConcurrency 64,
//   - through BullMQ alone: one worker process with a no-op processor (concurrency 64), the
//     producer keeping 64 jobs in flight and awaiting each through QueueEvents (no taskloom);
//   - through `bullmqExecutor` with one worker process (`createWorker`, concurrency 64) and a
//     MemoryStore (so the rows compare executors, not stores), and with 4 worker processes;
//   - the embedded executor (bodies in the coordinator), for scale.
// I/O-bound (scaling): a fan-out of IO_N nodes whose bodies each wait IO_MS ms, through
// `bullmqExecutor` with 1 and with 4 worker processes, each running IO_CONCURRENCY bodies at
// once (maxConcurrency 64 is above 4 x IO_CONCURRENCY, so the workers are the bound).
// Median of ROUNDS (default 3) after one warm-up round per configuration, all in one run; the
// per-job overhead's two rows (raw BullMQ, bullmqExecutor with one worker) instead run PAIRS
// (default 5) alternating pairs of rounds, and their ratio is the median of the pairs' (`noopPairs`).
// `--json` prints one JSON line (for bench/run.ts) instead of the table; `--quick` shrinks N.
// Run alone with `npm run bench:distributed` (it builds dist first).
import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { MemoryStore, runAsync } from "../dist/index.js";
import { bullmqExecutor } from "../dist/adapters/bullmq/index.js";
import { fanOut, ioFanOut } from "./distributed-graph.mjs";

const JSON_OUT = process.argv.includes("--json");
/** `NOOP_ONLY=1`: only the no-op rows (raw BullMQ and one worker), for a quick comparison. */
const NOOP_ONLY = process.env.NOOP_ONLY === "1";
/** `IO_ONLY=1`: only the two I/O-bound rows, for a quick comparison of the scaling target. */
const IO_ONLY = process.env.IO_ONLY === "1";
const QUICK = process.argv.includes("--quick");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const N = Number(process.env.N ?? (QUICK ? 2_000 : 10_000));
const IO_N = Number(process.env.IO_N ?? (QUICK ? 400 : 1_000));
const IO_MS = Number(process.env.IO_MS ?? 20);
const IO_CONCURRENCY = Number(process.env.IO_CONCURRENCY ?? 4);
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 1 : 3));
/** Alternating pairs of the per-job overhead's two rows (`noopPairs`). */
const PAIRS = Number(process.env.PAIRS ?? (QUICK ? 1 : 5));
const CONCURRENCY = 64;
const PREFIX = `tl-bench-${process.pid}`;
const QUEUE = "bench";
const RAW_QUEUE = "raw";
const noopGraph = fanOut(N);
const ioGraph = ioFanOut(IO_N, IO_MS);
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const log = (line) => process.stderr.write(`bullmq: ${line}\n`);

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

function startProcesses(k, script, env) {
  const file = fileURLToPath(new URL(script, import.meta.url));
  return Promise.all(
    Array.from({ length: k }, () => {
      const child = spawn(process.execPath, [file], {
        env: { ...process.env, REDIS_URL, PREFIX, QUEUE, RAW_QUEUE, ...env },
        stdio: ["ignore", "pipe", "inherit"],
      });
      return new Promise((resolve, reject) => {
        child.stdout.on("data", (d) => d.toString().includes("ready") && resolve(child));
        child.once("exit", (code) => reject(new Error(`worker exited with ${code}`)));
      });
    }),
  );
}

async function stopProcesses(children) {
  for (const c of children) c.kill("SIGTERM");
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once("exit", r)))));
}

/** Commands Redis has run so far (INFO commandstats): exact per job only on a Redis of the bench's own. */
async function redisCalls() {
  const client = new Redis(REDIS_URL);
  try {
    const info = await client.info("commandstats");
    return [...info.matchAll(/calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  } finally {
    client.disconnect();
  }
}

async function timed(label, runOnce, jobs) {
  const calls0 = await redisCalls();
  await runOnce("warm");
  const ts = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    await runOnce(String(r));
    ts.push(performance.now() - t);
  }
  const commandsPerJob = jobs ? ((await redisCalls()) - calls0) / ((ROUNDS + 1) * jobs) : undefined;
  const ms = med(ts);
  log(`${label}: ${ms.toFixed(0)} ms${commandsPerJob === undefined ? "" : `, ${commandsPerJob.toFixed(2)} Redis commands per job`}`);
  return { label, ms, roundsMs: ts, commandsPerJob };
}

const workerEnv = { SIZES: String(N), IO_SIZES: String(IO_N), IO_MS: String(IO_MS) };

/** `k` taskloom worker processes running at most `concurrency` bodies each, around `fn(executor)`. */
async function withWorkers(k, concurrency, fn) {
  const workers = await startProcesses(k, "distributed-worker.mjs", { ...workerEnv, CONCURRENCY: String(concurrency) });
  const executor = bullmqExecutor({ connection: REDIS_URL, prefix: PREFIX, queue: QUEUE });
  try {
    return await fn(executor);
  } finally {
    await executor.close();
    await stopProcesses(workers);
  }
}

/**
 * The per-job overhead (target 8): BullMQ alone and `bullmqExecutor`, each with one worker
 * process, both sets of processes up at once and their rounds alternating (after one warm-up
 * round each), which one goes first swapped at every pair: a drift of the machine or of Redis
 * during the measurement then moves both sides of a pair alike (the readings of earlier passes,
 * raw rounds first and the executor's after, went from 0.92x to 1.61x on one tree). The
 * ratio is the median of the per-pair ratios; each row keeps the median of its own rounds.
 * Redis commands per job are counted around each round of its side (an idle worker's blocking
 * reads of the other side may add a few to the count).
 */
async function noopPairs() {
  const rawWorkers = await startProcesses(1, "distributed-raw-worker.mjs", { CONCURRENCY: String(CONCURRENCY) });
  const url = new URL(REDIS_URL);
  const connection = { host: url.hostname, port: Number(url.port || 6379), maxRetriesPerRequest: null };
  const queue = new Queue(RAW_QUEUE, { connection, prefix: PREFIX });
  // From the stream's start: "$" (the default) is resolved at the first XREAD, which may come after the first events.
  const events = new QueueEvents(RAW_QUEUE, { connection, prefix: PREFIX, lastEventId: "0-0" });
  const waiters = new Map();
  events.on("completed", ({ jobId }) => waiters.get(jobId)?.());
  await events.waitUntilReady();
  let round = 0;
  const rawOnce = async () => {
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
  };
  try {
    return await withWorkers(1, CONCURRENCY, async (executor) => {
      const sides = [
        { label: "BullMQ alone (no taskloom), 1 worker process", once: rawOnce, ts: [], calls: 0 },
        { label: "bullmqExecutor, 1 worker process, MemoryStore", once: runOn(noopGraph, executor), ts: [], calls: 0 },
      ];
      const measure = async (side, counted) => {
        const calls0 = await redisCalls();
        const t = performance.now();
        await side.once();
        const ms = performance.now() - t;
        side.calls += (await redisCalls()) - calls0;
        if (counted) side.ts.push(ms);
        return ms;
      };
      for (const side of sides) await measure(side, false);
      const pairRatios = [];
      for (let r = 0; r < PAIRS; r++) {
        const order = r % 2 === 0 ? sides : [...sides].reverse();
        const ms = new Map();
        for (const side of order) ms.set(side, await measure(side, true));
        pairRatios.push(ms.get(sides[1]) / ms.get(sides[0]));
      }
      const [raw, one] = sides.map((side) => {
        const commandsPerJob = side.calls / ((PAIRS + 1) * (N + 2));
        const row = { label: side.label, ms: med(side.ts), roundsMs: side.ts, commandsPerJob };
        log(`${row.label}: ${row.ms.toFixed(0)} ms, ${commandsPerJob.toFixed(2)} Redis commands per job`);
        return row;
      });
      log(`per-job overhead, pairs: ${pairRatios.map((x) => x.toFixed(2)).join(" ")} (median ${med(pairRatios).toFixed(2)}x)`);
      return { raw, one, pairRatios };
    });
  } finally {
    await events.close();
    await queue.close();
    await stopProcesses(rawWorkers);
  }
}

const load0 = loadavg();
const rows = [];
let id = 0;
const runOn = (g, executor) => () =>
  runAsync(g, undefined, { runId: `b-${id++}`, store: new MemoryStore(), maxConcurrency: CONCURRENCY, ...(executor && { executor }) });

try {
  if (IO_ONLY) {
    const io1 = await withWorkers(1, IO_CONCURRENCY, (executor) =>
      timed(`I/O-bound (${IO_MS} ms bodies), 1 worker process x ${IO_CONCURRENCY}`, runOn(ioGraph, executor), IO_N + 2),
    );
    const io4 = await withWorkers(4, IO_CONCURRENCY, (executor) =>
      timed(`I/O-bound (${IO_MS} ms bodies), 4 worker processes x ${IO_CONCURRENCY}`, runOn(ioGraph, executor), IO_N + 2),
    );
    for (const row of [io1, io4]) console.log(`| ${row.label} | ${row.ms.toFixed(0)} | ${row.commandsPerJob?.toFixed(2) ?? "-"} |`);
    console.log(`I/O-bound throughput, 4 workers / 1 worker: ${(io1.ms / io4.ms).toFixed(2)}x (target >= 3.5x)`);
    process.exit(0);
  }
  const embedded = await timed("embedded executor, MemoryStore", runOn(noopGraph));
  rows.push(embedded);
  // The floor (BullMQ alone, the same number of jobs, 64 in flight, one worker process) and
  // bullmqExecutor with one worker process, their rounds alternating (pairs).
  const { raw, one, pairRatios } = await noopPairs();
  rows.push(raw, one);
  if (NOOP_ONLY) {
    for (const row of rows) console.log(`| ${row.label} | ${row.ms.toFixed(0)} | ${row.commandsPerJob?.toFixed(2) ?? "-"} |`);
    process.exit(0);
  }
  rows.push(await withWorkers(4, CONCURRENCY, (executor) => timed("bullmqExecutor, 4 worker processes, MemoryStore", runOn(noopGraph, executor), N + 2)));
  const io1 = await withWorkers(1, IO_CONCURRENCY, (executor) =>
    timed(`I/O-bound (${IO_MS} ms bodies), 1 worker process x ${IO_CONCURRENCY}`, runOn(ioGraph, executor), IO_N + 2),
  );
  const io4 = await withWorkers(4, IO_CONCURRENCY, (executor) =>
    timed(`I/O-bound (${IO_MS} ms bodies), 4 worker processes x ${IO_CONCURRENCY}`, runOn(ioGraph, executor), IO_N + 2),
  );
  const result = {
    n: N,
    ioN: IO_N,
    ioMs: IO_MS,
    ioConcurrency: IO_CONCURRENCY,
    rounds: ROUNDS,
    concurrency: CONCURRENCY,
    loadAvgAtStart: load0,
    loadAvgAtEnd: loadavg(),
    noop: { embeddedMs: embedded.ms, rawMs: raw.ms, oneWorkerMs: one.ms, pairRatios, pairRatio: med(pairRatios) },
    io: { oneWorkerMs: io1.ms, fourWorkersMs: io4.ms },
    rows: [...rows, io1, io4],
  };
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    console.log(
      `fan-out of ${N.toLocaleString("en")} no-op nodes and of ${IO_N.toLocaleString("en")} nodes waiting ${IO_MS} ms, maxConcurrency ${CONCURRENCY}, median of ${ROUNDS} (load average ${load0[0].toFixed(2)} → ${loadavg()[0].toFixed(2)})`,
    );
    console.log(`| system | ms | nodes/s | Redis commands per job |`);
    console.log(`|---|---:|---:|---:|`);
    for (const row of result.rows) {
      const nodes = row.label.startsWith("I/O") ? IO_N + 2 : N + 2;
      const commands = row.commandsPerJob === undefined ? "-" : row.commandsPerJob.toFixed(2);
      console.log(`| ${row.label} | ${row.ms.toFixed(0)} | ${Math.round((nodes / row.ms) * 1000).toLocaleString("en")} | ${commands} |`);
    }
    console.log(
      `per-job overhead, bullmqExecutor 1 worker / BullMQ alone: ${med(pairRatios).toFixed(2)}x, median of ${PAIRS} alternating pairs (${pairRatios.map((x) => x.toFixed(2)).join(" ")}); ratio of the medians ${(one.ms / raw.ms).toFixed(2)}x (target <= 1.3x)`,
    );
    console.log(`I/O-bound throughput, 4 workers / 1 worker: ${(io1.ms / io4.ms).toFixed(2)}x (target >= 3.5x)`);
  }
} finally {
  await dropPrefix();
}
process.exit(0);
