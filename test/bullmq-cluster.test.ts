/**
 * The BullMQ adapter across processes: worker processes (`node` on the
 * compiled package, test/fixtures/bullmq-worker.mjs) run node bodies for a
 * coordinator; the tests SIGKILL workers and coordinators mid-run. Node
 * bodies record in Redis how often each ran, how many ran at once
 * cluster-wide, and a log of starts, ends and aborts with their pids.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, expect, it } from "vitest";
import { graph, getRun, resolveWait, run, runAsync, RunCancelledError } from "../src/index.js";
import { bullmqExecutor, RedisStore, type BullmqExecutor } from "../src/adapters/bullmq/index.js";
import { makeGraphs, type FixtureGraphs } from "./fixtures/bullmq-graphs.mjs";
import { describeRedis, dropPrefix, eventually, REDIS_URL, uniquePrefix } from "./support/redis.js";

const WORKER = resolve(import.meta.dirname, "fixtures/bullmq-worker.mjs");
const COORDINATOR = resolve(import.meta.dirname, "fixtures/bullmq-coordinator.mjs");
const CLI = resolve(import.meta.dirname, "../dist/cli/main.js");
const CLI_MODULE = resolve(import.meta.dirname, "fixtures/bullmq-cli-module.mjs");
const QUEUE = "nodes";
/** Side-effect logs of the stepper graph (test/fixtures/log-line.mjs). */
const logDir = mkdtempSync(join(tmpdir(), "taskloom-bullmq-cluster-"));
afterAll(() => rmSync(logDir, { recursive: true, force: true }));

function sideLog(label: string): string {
  return join(logDir, `${label}.log`);
}

function sideLines(log: string): string[] {
  return existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
}

interface Env {
  readonly prefix: string;
  readonly redis: Redis;
  readonly store: RedisStore;
  readonly executor: BullmqExecutor;
  readonly graphs: FixtureGraphs;
}

const children: ChildProcess[] = [];
const envs: Env[] = [];

function setup(label: string, fixture: { slowMs?: number; victimMs?: number } = {}): Env {
  const prefix = uniquePrefix(label);
  const env: Env = {
    prefix,
    redis: new Redis(REDIS_URL),
    store: new RedisStore({ connection: REDIS_URL, prefix }),
    executor: bullmqExecutor({ connection: REDIS_URL, prefix, queue: QUEUE }),
    graphs: makeGraphs(graph, { prefix, redisUrl: REDIS_URL, ...fixture }),
  };
  envs.push(env);
  return env;
}

function spawnNode(script: string, env: Record<string, string>, args: readonly string[] = []): ChildProcess {
  const child = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, REDIS_URL, QUEUE, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  child.once("exit", (code, signal) => {
    if (code !== 0 && code !== null && signal === null) console.error(`${script} exited with ${code}: ${stderr}`);
  });
  children.push(child);
  return child;
}

/** Starts a worker process and resolves once it takes jobs. */
async function startWorker(env: Env, settings: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawnNode(WORKER, { PREFIX: env.prefix, ...settings });
  await new Promise<void>((ready, fail) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) ready();
    });
    child.once("exit", (code) => fail(new Error(`worker exited (${code}) before it was ready`)));
  });
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => child.once("exit", () => done()));
}

async function logLines(env: Env): Promise<string[]> {
  return env.redis.lrange(`${env.prefix}:t:log`, 0, -1);
}

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill("SIGKILL");
    await exited(child);
  }
  for (const env of envs.splice(0)) {
    await env.executor.close();
    await env.store.close();
    env.graphs.close();
    env.redis.disconnect();
    await dropPrefix(env.prefix);
  }
});

describeRedis("BullMQ adapter across processes", () => {
  it("runs a 2,000-node graph on 3 worker processes: every body once, concurrency held cluster-wide", async () => {
    const env = setup("wide");
    await Promise.all([1, 2, 3].map(() => startWorker(env, { GRAPHS: "wide", CONCURRENCY: "8" })));
    const wide = env.graphs.wide(2000);
    const out = await runAsync(wide, {}, { runId: "wide-1", store: env.store, executor: env.executor, maxConcurrency: 12 });
    expect(out).toEqual({ total: 2000 + (1999 * 2000) / 2 });
    const runs = await env.redis.hgetall(`${env.prefix}:t:runs`);
    expect(Object.keys(runs)).toHaveLength(2002);
    expect(Object.values(runs).every((n) => n === "1")).toBe(true);
    // Three workers could run 24 bodies at once; the run's limit is 12.
    expect(Number(await env.redis.get(`${env.prefix}:t:max`))).toBeLessThanOrEqual(12);
    expect(Number(await env.redis.get(`${env.prefix}:t:max`))).toBeGreaterThanOrEqual(2);
    expect(Object.keys(await env.redis.hgetall(`${env.prefix}:t:pids`))).toHaveLength(3);
  }, 60_000);

  it("re-runs elsewhere the job of a worker SIGKILLed mid-job, as the same attempt", async () => {
    const env = setup("victim", { victimMs: 1500 });
    const workers = await Promise.all([1, 2].map(() => startWorker(env, { GRAPHS: "victim", VICTIM_MS: "1500" })));
    const handle = run(env.graphs.victim, { n: 21 }, { runId: "victim-1", store: env.store, executor: env.executor });
    const first = await eventually("the body to start", async () => (await logLines(env)).find((l) => l.startsWith("start slow")));
    const pid = Number(first.split(" ")[3]);
    const killed = workers.find((w) => w.pid === pid);
    expect(killed).toBeDefined();
    killed!.kill("SIGKILL");
    expect(await handle.result()).toEqual({ doubled: 42 });
    const lines = await logLines(env);
    const starts = lines.filter((l) => l.startsWith("start slow"));
    expect(starts).toHaveLength(2);
    expect(starts.map((l) => l.split(" ")[2])).toEqual(["1", "1"]); // the same attempt, twice
    expect(new Set(starts.map((l) => l.split(" ")[3])).size).toBe(2);
    expect(lines.filter((l) => l.startsWith("end slow"))).toEqual([expect.not.stringContaining(` ${pid}`)]);
    const stored = await getRun("victim-1", { store: env.store });
    expect(stored.nodes.find((n) => n.id === "slow")).toMatchObject({ status: "succeeded", attempts: 1 });
  }, 60_000);

  it("fails the attempt of a job that stalled more than allowed, and the retry policy runs it again", async () => {
    const env = setup("stalled", { victimMs: 1500 });
    // maxStalledCount 0: the first stall fails the job instead of re-queueing it.
    const settings = { GRAPHS: "victim", VICTIM_MS: "1500", MAX_STALLED: "0" };
    const workers = await Promise.all([1, 2].map(() => startWorker(env, settings)));
    const handle = run(
      env.graphs.victim,
      { n: 4 },
      {
        runId: "stalled-1",
        store: env.store,
        executor: env.executor,
        retry: { maxAttempts: 2, backoff: { initialMs: 1, jitter: false } },
      },
    );
    const errors: unknown[] = [];
    handle.events.on("node:retry", (e) => errors.push(e.error));
    const first = await eventually("the body to start", async () => (await logLines(env)).find((l) => l.startsWith("start slow")));
    workers.find((w) => w.pid === Number(first.split(" ")[3]))!.kill("SIGKILL");
    expect(await handle.result()).toEqual({ doubled: 8 });
    expect(errors).toHaveLength(1);
    const stored = await getRun("stalled-1", { store: env.store });
    expect(errors[0]).toMatchObject({ code: "WORKER_JOB_FAILED", jobId: `stalled-1/slow/1/${stored.instance!}` });
    const starts = (await logLines(env)).filter((l) => l.startsWith("start slow")).map((l) => l.split(" ")[2]);
    expect(starts).toEqual(["1", "2"]);
    expect(stored.nodes.find((n) => n.id === "slow")).toMatchObject({ status: "succeeded", attempts: 2 });
  }, 60_000);

  it("lets a new coordinator finish the run of a SIGKILLed one without re-running stored nodes", async () => {
    const env = setup("failover", { slowMs: 300 });
    await Promise.all([1, 2].map(() => startWorker(env, { GRAPHS: "chain", SLOW_MS: "300" })));
    const coordinator = spawnNode(COORDINATOR, { PREFIX: env.prefix, GRAPH: "chain", RUN_ID: "chain-1", SLOW_MS: "300" });
    await eventually("node c to start", async () => (await logLines(env)).find((l) => l.startsWith("start c")));
    coordinator.kill("SIGKILL");
    await exited(coordinator);
    const saved = await getRun("chain-1", { store: env.store });
    const savedDone = saved.nodes.filter((n) => n.status === "succeeded").map((n) => n.id);
    expect(savedDone).toEqual(expect.arrayContaining(["a", "b"]));

    const out = await runAsync(
      env.graphs.chain,
      { n: 1 },
      {
        runId: "chain-1",
        store: env.store,
        executor: env.executor,
        takeover: true,
      },
    );
    expect(out).toEqual({ f: 21 });
    const runs = await env.redis.hgetall(`${env.prefix}:t:runs`);
    // c was running when the coordinator died: its job finished meanwhile and its result was reused.
    expect(runs).toEqual({ a: "1", b: "1", c: "1", d: "1", e: "1", f: "1" });
  }, 60_000);

  it("aborts the signal of a body running in a worker when the run is cancelled", async () => {
    const env = setup("cancel");
    const [worker] = await Promise.all([startWorker(env, { GRAPHS: "cancellable" })]);
    const handle = run(env.graphs.cancellable, {}, { runId: "cancel-1", store: env.store, executor: env.executor });
    await eventually("the body to start", async () => (await logLines(env)).find((l) => l.startsWith("start hang")));
    handle.cancel("enough");
    await expect(handle.result()).rejects.toBeInstanceOf(RunCancelledError);
    const aborted = await eventually("the abort to reach the worker", async () => (await logLines(env)).find((l) => l.startsWith("aborted hang")));
    expect(aborted).toBe(`aborted hang 1 ${worker.pid}`);
  }, 60_000);

  it("serves a module's graphs with `taskloom worker`, and exits 0 on SIGTERM", async () => {
    const env = setup("cli", { slowMs: 20 });
    const cli = spawnNode(CLI, { PREFIX: env.prefix }, [
      "worker",
      CLI_MODULE,
      "--redis",
      REDIS_URL,
      "--concurrency",
      "2",
      "--queue",
      QUEUE,
      "--prefix",
      env.prefix,
    ]);
    let stderr = "";
    cli.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    await eventually("the worker to be ready", async () => (stderr.includes("concurrency 2") ? true : undefined));
    expect(stderr).toMatch(/graphs chain, victim/);
    expect(await runAsync(env.graphs.chain, {}, { store: env.store, executor: env.executor })).toEqual({ f: 21 });
    const code = new Promise<number | null>((done) => cli.once("exit", (c) => done(c)));
    cli.kill("SIGTERM");
    expect(await code).toBe(0);
  }, 60_000);

  // A stalled job runs again on another worker as the same attempt; what its body did through
  // ctx.step, ctx.waitFor and ctx.emit before its worker died must not be done again.
  it.each([
    ["after-step", "the step returned"],
    ["after-wait", "the wait returned"],
  ])(
    "returns a journaled step's result to a job re-run on another worker (first worker SIGKILLed at '%s': %s): the side effect happens once",
    async (killOn) => {
      const env = setup(`step-${killOn}`);
      const log = sideLog(`step-${killOn}`);
      const first = await startWorker(env, { GRAPHS: "stepper", LOG: log, KILL_ON: killOn });
      const runId = `step-${killOn}`;
      const handle = run(env.graphs.stepper, { n: 7 }, { runId, store: env.store, executor: env.executor });
      const events: unknown[] = [];
      handle.events.on("node:event", (e) => events.push(e.data));
      handle.events.on("node:wait", () => void resolveWait(runId, "approve", { ok: true }, { store: env.store }));
      await eventually(`the first worker to stop at ${killOn}`, async () =>
        sideLines(log).find((l) => l.startsWith(`${killOn} `) && l.endsWith(` ${first.pid}`)),
      );
      first.kill("SIGKILL");
      await exited(first);
      const second = await startWorker(env, { GRAPHS: "stepper", LOG: log });
      expect(await handle.result()).toEqual({ receipt: { receipt: 70 }, approval: { ok: true } });
      const lines = sideLines(log);
      expect(lines.filter((l) => l.startsWith("charged"))).toEqual([`charged ${first.pid}`]);
      expect(lines).toContain(`after-step 70 ${second.pid}`);
      expect(lines).toContain(`after-wait {"ok":true} ${second.pid}`);
      // The re-run emits again (emit is not journaled: it is as at-least-once as the body), with the journaled value.
      expect(events.length).toBeGreaterThanOrEqual(1);
      for (const data of events) expect(data).toEqual({ receipt: 70 });
      const stored = await getRun(runId, { store: env.store });
      expect(stored.nodes.find((n) => n.id === "pay")).toMatchObject({ status: "succeeded", attempts: 1, steps: { charge: { receipt: 70 } } });
    },
    60_000,
  );

  it("returns a journaled step's result after a SIGKILL with the embedded executor too (no BullMQ)", async () => {
    const env = setup("step-embedded");
    const log = sideLog("step-embedded");
    const runId = "step-embedded";
    const settings = { PREFIX: env.prefix, GRAPH: "stepper", RUN_ID: runId, N: "7", EXECUTOR: "none", LOG: log, KILL_ON: "after-step" };
    const coordinator = spawnNode(COORDINATOR, settings);
    await eventually("the step to return in the coordinator", async () =>
      sideLines(log).find((l) => l.startsWith("after-step ") && l.endsWith(` ${coordinator.pid}`)),
    );
    coordinator.kill("SIGKILL");
    await exited(coordinator);
    // The body runs here now: it logs to the same file.
    process.env.LOG = log;
    try {
      const handle = run(env.graphs.stepper, { n: 7 }, { runId, store: env.store, takeover: true });
      handle.events.on("node:wait", () => void resolveWait(runId, "approve", { ok: true }, { store: env.store }));
      expect(await handle.result()).toEqual({ receipt: { receipt: 70 }, approval: { ok: true } });
    } finally {
      delete process.env.LOG;
    }
    const lines = sideLines(log);
    expect(lines.filter((l) => l.startsWith("charged"))).toEqual([`charged ${coordinator.pid}`]);
    expect(lines).toContain(`after-step 70 ${process.pid}`);
  }, 60_000);

  it("journals the value of a step whose function ran while its coordinator died: the new coordinator takes it", async () => {
    const env = setup("step-failover");
    const log = sideLog("step-failover");
    const runId = "step-failover";
    const worker = await startWorker(env, { GRAPHS: "stepper", LOG: log, CHARGE_MS: "3000" });
    const coordinator = spawnNode(COORDINATOR, { PREFIX: env.prefix, GRAPH: "stepper", RUN_ID: runId, N: "7" });
    // The worker was told to run the step, and runs its function: the coordinator that said so dies.
    await eventually("the step's function to start", async () => sideLines(log).find((l) => l === `charged ${worker.pid}`));
    coordinator.kill("SIGKILL");
    await exited(coordinator);
    const handle = run(env.graphs.stepper, { n: 7 }, { runId, store: env.store, executor: env.executor, takeover: true });
    handle.events.on("node:wait", () => void resolveWait(runId, "approve", { ok: true }, { store: env.store }));
    expect(await handle.result()).toEqual({ receipt: { receipt: 70 }, approval: { ok: true } });
    const lines = sideLines(log);
    expect(lines.filter((l) => l.startsWith("charged"))).toEqual([`charged ${worker.pid}`]);
    const stored = await getRun(runId, { store: env.store });
    expect(stored.nodes.find((n) => n.id === "pay")).toMatchObject({ status: "succeeded", steps: { charge: { receipt: 70 } } });
  }, 60_000);
});
