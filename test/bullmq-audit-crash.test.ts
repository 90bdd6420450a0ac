/**
 * Audit of the worker side of the BullMQ adapter across processes: a
 * worker process (`node --import tsx` on a script written here, importing
 * src/) SIGKILLed after it stored a job's result and before BullMQ marked
 * the job completed, and one stopped by SIGTERM mid-job. Node bodies count
 * their runs in Redis.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Redis } from "ioredis";
import { afterAll, afterEach, expect, it } from "vitest";
import { graph, MemoryStore, run, runAsync } from "../src/index.js";
import { bullmqExecutor, createWorker } from "../src/adapters/bullmq/index.js";
import { attemptJobId, describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

const ROOT = resolve(import.meta.dirname, "..");
const dir = mkdtempSync(join(tmpdir(), "taskloom-bullmq-audit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The graph of both sides: node "a" counts its runs in `<prefix>:t:runs` and, with `<prefix>:t:hold` set, waits until it is deleted. */
function makeGraph(redis: Redis, prefix: string) {
  return graph("audit-crash")
    .node("a", async () => {
      await redis.incr(`${prefix}:t:runs`);
      while ((await redis.exists(`${prefix}:t:hold`)) === 1) await new Promise((r) => setTimeout(r, 20));
      return { value: 42 };
    })
    .output((o) => o.a)
    .build();
}

// The worker process. HANG_AFTER_REPORT: once a job's result is reported, print "reported" and never finish the job
// (so that BullMQ never marks it completed before the SIGKILL).
const WORKER_SCRIPT = `
import { Redis } from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve("ioredis")).href)};
import { graph } from ${JSON.stringify(pathToFileURL(join(ROOT, "src/index.ts")).href)};
import { createWorker } from ${JSON.stringify(pathToFileURL(join(ROOT, "src/adapters/bullmq/index.ts")).href)};
const prefix = process.env.PREFIX;
const redis = new Redis(process.env.REDIS_URL);
const g = graph("audit-crash")
  .node("a", async () => {
    await redis.incr(prefix + ":t:runs");
    while ((await redis.exists(prefix + ":t:hold")) === 1) await new Promise((r) => setTimeout(r, 20));
    return { value: 42 };
  })
  .output((o) => o.a)
  .build();
const client = new Redis(process.env.REDIS_URL);
if (process.env.HANG_AFTER_REPORT) {
  const define = client.defineCommand.bind(client);
  client.defineCommand = (name, spec) => {
    define(name, spec);
    if (!name.startsWith("taskloomReport")) return;
    const real = client[name];
    client[name] = (...args) => real.apply(client, args).then(() => {
      process.stdout.write("reported\\n");
      return new Promise(() => {});
    });
  };
}
const worker = createWorker({ connection: client, prefix, queue: "q", graphs: [g], lockDurationMs: 1000, stalledIntervalMs: 300 });
await worker.waitUntilReady();
process.stdout.write("ready\\n");
process.on("SIGTERM", () => {
  worker.close().then(
    () => { process.stdout.write("closed\\n"); client.disconnect(); redis.disconnect(); },
    () => process.exit(1),
  );
});
`;
const workerScript = join(dir, "worker.mts");
writeFileSync(workerScript, WORKER_SCRIPT);

const children: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await exited(child);
  }
  for (const close of closers.splice(0).reverse()) await close();
});

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((done) => child.once("exit", (code) => done(code)));
}

/** Starts a worker process; `said(line)` resolves once it printed that line. */
function startWorker(prefix: string, env: Record<string, string> = {}): { child: ChildProcess; said: (line: string) => Promise<void> } {
  const child = spawn(process.execPath, ["--import", "tsx", workerScript], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL, PREFIX: prefix, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const waiters: { line: string; done: () => void }[] = [];
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) {
      if (out.split("\n").includes(w.line)) w.done();
      else waiters.push(w);
    }
  });
  const said = (line: string): Promise<void> =>
    new Promise((done, fail) => {
      if (out.split("\n").includes(line)) return done();
      waiters.push({ line, done });
      child.once("exit", (code) => fail(new Error(`worker exited (${code}) before it said "${line}": ${err}`)));
    });
  return { child, said };
}

function setup(label: string) {
  const prefix = uniquePrefix(label);
  const redis = new Redis(REDIS_URL);
  const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
  closers.push(async () => {
    await executor.close();
    redis.disconnect();
    await dropPrefix(prefix);
  });
  return { prefix, redis, executor, g: makeGraph(redis, prefix) };
}

describeRedis("BullMQ worker processes (audit)", () => {
  it("never runs again a body whose result was stored when its worker was SIGKILLed before BullMQ completed the job, even once the run ended", async () => {
    const { prefix, redis, executor, g } = setup("kill-after-report");
    const a = startWorker(prefix, { HANG_AFTER_REPORT: "1" });
    await a.said("ready");
    // The coordinator takes the result from the report: the run ends, and its side channels are deleted.
    const store = new MemoryStore();
    expect(await runAsync(g, undefined, { runId: "k1", store, executor })).toEqual({ value: 42 });
    await a.said("reported");
    a.child.kill("SIGKILL");
    await exited(a.child);
    // Another worker gets the job once its lock expires (the stalled check).
    const b = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [g], stalledIntervalMs: 200 });
    closers.push(() => b.close());
    const jobId = await attemptJobId(store, "k1", "a", 1);
    const ended = new Promise<void>((done) => {
      b.worker.on("completed", (job) => job.id === jobId && done());
      b.worker.on("failed", (job) => job?.id === jobId && done());
    });
    await ended;
    expect(await redis.get(`${prefix}:t:runs`)).toBe("1");
  }, 30_000);

  it("finishes its running job and reports it when SIGTERMed mid-job, then exits", async () => {
    const { prefix, redis, executor, g } = setup("sigterm");
    await redis.set(`${prefix}:t:hold`, "1");
    const w = startWorker(prefix);
    await w.said("ready");
    const handle = run(g, undefined, { runId: "t1", store: new MemoryStore(), executor });
    while ((await redis.get(`${prefix}:t:runs`)) !== "1") await new Promise((r) => setTimeout(r, 20));
    w.child.kill("SIGTERM");
    await redis.del(`${prefix}:t:hold`);
    expect(await handle.result()).toEqual({ value: 42 });
    await w.said("closed");
    expect(await exited(w.child)).toBe(0);
    expect(await redis.get(`${prefix}:t:runs`)).toBe("1");
  }, 30_000);
});
