// Where a bullmqExecutor job's time and CPU go, per process: the I/O-bound (or no-op) fan-out of
// bench/distributed.mjs through `k` worker processes of the checkout `--tree`, on Redis at
// REDIS_URL (best a Redis of its own, so its CPU and command counts are this probe's alone).
// Per round: wall ms, CPU ms of the coordinator (process.cpuUsage), of the workers together
// (/proc/<pid>/stat, 10 ms ticks) and of Redis (INFO cpu), and Redis commands by name
// (INFO commandstats, commands inside scripts included), all per job. Prints one JSON line.
//
// write syscalls per job by process from /proc/<pid>/io (Redis's with REDIS_PID=<its pid>).
// WORKER_PROF=<dir> runs the workers with --cpu-prof into <dir>.
// `REDIS_URL=redis://127.0.0.1:6391 node bench/probes/bullmq-cpu.mjs --tree /work/wt/base --workers 4 --concurrency 4 --rounds 3 [--noop]`
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";

const { values } = parseArgs({
  options: {
    tree: { type: "string", default: "." },
    workers: { type: "string", default: "4" },
    concurrency: { type: "string", default: "4" },
    rounds: { type: "string", default: "3" },
    n: { type: "string", default: "1000" },
    ms: { type: "string", default: "20" },
    noop: { type: "boolean", default: false },
  },
});
const tree = resolve(values.tree);
const k = Number(values.workers);
const n = Number(values.n);
const ms = Number(values.ms);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6391";
const PREFIX = `tl-probe-${process.pid}`;
const QUEUE = "probe";
const dist = (p) => import(pathToFileURL(`${tree}/${p}`).href);
const { MemoryStore, runAsync } = await dist("dist/index.js");
const { bullmqExecutor } = await dist("dist/adapters/bullmq/index.js");
const { fanOut, ioFanOut } = await dist("bench/distributed-graph.mjs");
const g = values.noop ? fanOut(n) : ioFanOut(n, ms);
const jobs = n + 2;

const workers = await Promise.all(
  Array.from({ length: k }, () => {
    const child = spawn(
      process.execPath,
      [...(process.env.WORKER_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.WORKER_PROF}`] : []), `${tree}/bench/distributed-worker.mjs`],
      {
        env: {
          ...process.env,
          REDIS_URL,
          PREFIX,
          QUEUE,
          ...(values.noop ? { SIZES: String(n) } : { IO_SIZES: String(n), IO_MS: String(ms) }),
          CONCURRENCY: values.concurrency,
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    return new Promise((res, rej) => {
      child.stdout.on("data", (d) => d.toString().includes("ready") && res(child));
      child.once("exit", (code) => rej(new Error(`worker exited with ${code}`)));
    });
  }),
);
const ticks = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, in ms (CLK_TCK 100)
};
/** stime alone, in ms: the kernel's share (system calls: socket writes and reads, epoll). */
const sysTicks = (pid) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[12]) * 10;
const syscw = (pid) => Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))[1]);
const redisPid = Number(process.env.REDIS_PID ?? 0);
/** Context switches (voluntary: the process waited, e.g. for a reply; involuntary: preempted) of all its threads. */
const switches = (pid) => {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    n += Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]) + Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)[1]);
  }
  return n;
};
const admin = new Redis(REDIS_URL);
async function redisState() {
  const cpu = await admin.info("cpu");
  const num = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)[1]);
  const stats = await admin.info("commandstats");
  const calls = {};
  for (const m of stats.matchAll(/cmdstat_(\S+?):calls=(\d+)/g)) calls[m[1]] = Number(m[2]);
  return { cpuMs: (num("used_cpu_sys") + num("used_cpu_user")) * 1000, calls };
}
const executor = bullmqExecutor({ connection: REDIS_URL, prefix: PREFIX, queue: QUEUE });
const rows = [];
try {
  for (let r = -1; r < Number(values.rounds); r++) {
    const x0 = [process.pid, ...workers.map((c) => c.pid), ...(redisPid ? [redisPid] : [])].map(switches);
    const s0 = [process.pid, ...workers.map((c) => c.pid), ...(redisPid ? [redisPid] : [])].map(syscw);
    const w0 = workers.map((c) => ticks(c.pid));
    const ws0 = workers.map((c) => sysTicks(c.pid));
    const r0 = await redisState();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await runAsync(g, undefined, { runId: `p-${r}`, store: new MemoryStore(), maxConcurrency: 64, executor });
    const wall = performance.now() - t0;
    const c1 = process.cpuUsage(c0);
    const r1 = await redisState();
    const w1 = workers.map((c) => ticks(c.pid));
    const ws1 = workers.map((c) => sysTicks(c.pid));
    const s1 = [process.pid, ...workers.map((c) => c.pid), ...(redisPid ? [redisPid] : [])].map(syscw);
    const writes = s1.map((v, i) => v - s0[i]);
    const x1 = [process.pid, ...workers.map((c) => c.pid), ...(redisPid ? [redisPid] : [])].map(switches);
    const ctx = x1.map((v, i) => v - x0[i]);
    if (r < 0) continue; // warm-up
    const commands = {};
    for (const [name, count] of Object.entries(r1.calls)) {
      const d = count - (r0.calls[name] ?? 0);
      if (d > 0) commands[name] = +(d / jobs).toFixed(2);
    }
    rows.push({
      wallMs: Math.round(wall),
      perJobUs: {
        coordinator: Math.round(((c1.user + c1.system) / jobs) * 10) / 10,
        workers: Math.round((w1.reduce((s, v, i) => s + v - w0[i], 0) / jobs) * 1000 * 10) / 10,
        workersSys: Math.round((ws1.reduce((s, v, i) => s + v - ws0[i], 0) / jobs) * 1000 * 10) / 10,
        coordinatorSys: Math.round((c1.system / jobs) * 10) / 10,
        redis: Math.round(((r1.cpuMs - r0.cpuMs) / jobs) * 1000 * 10) / 10,
      },
      writesPerJob: {
        coordinator: +(writes[0] / jobs).toFixed(2),
        workers: +(writes.slice(1, 1 + k).reduce((a, b) => a + b, 0) / jobs).toFixed(2),
        ...(redisPid && { redis: +(writes[1 + k] / jobs).toFixed(2) }),
      },
      switchesPerJob: {
        coordinator: +(ctx[0] / jobs).toFixed(2),
        workers: +(ctx.slice(1, 1 + k).reduce((a, b) => a + b, 0) / jobs).toFixed(2),
        ...(redisPid && { redis: +(ctx[1 + k] / jobs).toFixed(2) }),
      },
      commandsPerJob: +(Object.values(commands).reduce((s, v) => s + v, 0) - (commands.info ?? 0)).toFixed(1),
      commands,
    });
  }
} finally {
  await executor.close();
  for (const c of workers) c.kill("SIGTERM");
  await Promise.all(workers.map((c) => new Promise((r) => (c.exitCode !== null ? r() : c.once("exit", r)))));
  let cursor = "0";
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${PREFIX}*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await admin.del(...keys);
  } while (cursor !== "0");
  admin.disconnect();
}
console.log(JSON.stringify({ tree, workers: k, concurrency: Number(values.concurrency), noop: values.noop, n, rows }));
process.exit(0);
