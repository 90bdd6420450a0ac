/**
 * Agent stages fed by queues, against a real Redis (issue 17 item 2),
 * each case under its own key prefix:
 * - the example as processes: a coordinator that serves no agent for
 *   `pre-label` and two BullMQ worker processes that run the job handler
 *   and `runner.apply` the results; every task ends in a final stage and
 *   each result is applied once;
 * - jobs delivered twice to two workers at once (as after a stalled job):
 *   every task's result is written once, the duplicate is `applied: false`,
 *   and each task moves once;
 * - a worker process SIGKILLed mid-queue: its jobs go back to the queue
 *   and to the other worker; each task moves once;
 * - `new StageRunner(workflow, { executor: bullmqExecutor(…) })`: a
 *   coordinator without agents whose agent calls run on a `createWorker`
 *   that serves the worker runner's graph.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { defineWorkflow, MemoryTaskSource, StageRunner, type ApplyResult, type StageEventMap } from "../src/index.js";
import { bullmqExecutor, createWorker, RedisStore } from "../src/adapters/bullmq/index.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const workflow = defineWorkflow({
  name: "redis-labeling",
  stages: [
    { id: "pre-label", kind: "agent", pathways: { review: "review", empty: "archive" } },
    { id: "review", kind: "review", pathways: { approve: "complete" } },
    { id: "complete", kind: "final" },
    { id: "archive", kind: "final" },
  ],
});

describeRedis("stages fed by queues, on Redis", () => {
  it("the example: a coordinator and two BullMQ worker processes take 120 tasks to their final stages, each result applied once", async () => {
    const prefix = uniquePrefix("stages-example");
    closers.push(() => dropPrefix(prefix));
    const main = fileURLToPath(new URL("../examples/stages-queue/main.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", main], {
      env: { ...process.env, REDIS_URL, PREFIX: prefix, TASKS: "120", RUN_ID: "example-1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toMatch(/^round 1: 120 tasks queued for pre-label \(listed and enqueued in [\d.]+ s\)$/m);
    expect(stdout).toMatch(/^done in [\d.]+ s: \{"archive":12,"complete":108\}, 0 failed$/m);
    const perWorker = /^jobs per worker: (.*)$/m.exec(stdout)?.[1]?.split(", ").map(Number) ?? [];
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(120); // one applied result per task, none twice
    expect(stdout).toContain('"label":"invoice","checked":true},"stageId":"complete","status":"COMPLETED","assignee":"ann"');
  }, 180_000);

  it("jobs delivered twice to two workers at once: each result is written once and each task moves once", async () => {
    const prefix = uniquePrefix("stages-dup");
    closers.push(() => dropPrefix(prefix));
    const store = new RedisStore({ connection: REDIS_URL, prefix });
    closers.push(() => store.close());
    const coordinator = new StageRunner<{ text: string }>(workflow, { store });
    const source = new MemoryTaskSource(Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, data: { text: i % 4 === 0 ? "" : `text ${i}` } })));
    await coordinator.runAsync({ tasks: source, runId: "dup" });

    const agentSide = new StageRunner<{ text: string }>(workflow, { store });
    agentSide.stage("pre-label", (task) => (task.data.text === "" ? "empty" : { pathway: "review", label: task.data.text.length }));
    const handler = agentSide.toJobHandlers()["pre-label"]!;
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    closers.push(async () => connection.disconnect());
    const queue = new Queue("pre-label", { connection, prefix });
    closers.push(() => queue.close());
    const outcomes: ApplyResult[] = [];
    for (let w = 0; w < 2; w++) {
      const worker = new Worker<string, string>(
        "pre-label",
        async (job) => {
          const result = await handler(job.data);
          outcomes.push(await agentSide.apply(job.name, result));
          return result;
        },
        { connection: new Redis(REDIS_URL, { maxRetriesPerRequest: null }), prefix, concurrency: 8 },
      );
      closers.push(async () => {
        await worker.close();
        await worker.disconnect();
      });
    }
    const due = await coordinator.tasksAt("pre-label", { runId: "dup", limit: 1_000 });
    expect(due).toHaveLength(40);
    // Every task twice, under two job ids: as a queue that redelivers.
    await queue.addBulk(due.flatMap((d) => [0, 1].map((copy) => ({ name: "dup", data: d.spec, opts: { jobId: `${d.jobId}/${copy}` } }))));
    for (let i = 0; outcomes.length < 80; i++) {
      if (i > 2_000) throw new Error(`only ${outcomes.length} of 80 jobs done`);
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const d of due) {
      const mine = outcomes.filter((o) => o.taskId === d.taskId);
      expect(mine.map((o) => o.applied).sort()).toEqual([false, true]);
    }
    const moves: StageEventMap["task:move"][] = [];
    coordinator.events.on("task:move", (e) => void moves.push(e));
    const report = await coordinator.runAsync({ tasks: source, runId: "dup" });
    expect(moves).toHaveLength(40);
    expect(new Set(moves.map((m) => m.taskId)).size).toBe(40);
    expect(report.byStage).toEqual({ archive: 10, review: 30 });
    expect(await coordinator.tasksAt("pre-label", { runId: "dup" })).toEqual([]);
  }, 120_000);

  it("a StageRunner with a BullMQ executor runs its agent calls on a worker that serves the runner's graph", async () => {
    const prefix = uniquePrefix("stages-exec");
    closers.push(() => dropPrefix(prefix));
    const calls: { task: string; pid: number }[] = [];
    const workerSide = new StageRunner<{ text: string }>(workflow);
    workerSide.stage("pre-label", (task) => {
      calls.push({ task: task.id, pid: process.pid });
      return task.data.text === "" ? "empty" : { pathway: "review", words: task.data.text.split(" ").length };
    });
    const worker = createWorker({ connection: REDIS_URL, prefix, queue: "stages", graphs: [workerSide.graph()], concurrency: 8 });
    closers.push(() => worker.close());
    await worker.waitUntilReady();
    const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "stages" });
    closers.push(() => executor.close());
    const store = new RedisStore({ connection: REDIS_URL, prefix });
    closers.push(() => store.close());
    // The coordinator has no agent: the worker's graph (same fingerprint) has it.
    const coordinator = new StageRunner<{ text: string }>(workflow, { store, executor });
    expect(coordinator.agents()).toEqual([]);
    const source = new MemoryTaskSource(Array.from({ length: 12 }, (_, i) => ({ id: `e${i}`, data: { text: i === 0 ? "" : "two words" } })));
    const report = await coordinator.runAsync({ tasks: source, runId: "exec", maxConcurrency: 4 });
    expect(report.failed).toEqual([]);
    expect(report.byStage).toEqual({ archive: 1, review: 11 });
    expect(calls.map((c) => c.task).sort()).toEqual(
      source
        .tasks()
        .map((t) => t.id)
        .sort(),
    );
    expect(source.tasks().find((t) => t.id === "e1")).toMatchObject({ stageId: "review", data: { text: "two words", words: 2 } });
    // 11 tasks wait at review, more than the worker's 8 slots: human stages run in the coordinator, so the worker stays free.
    await coordinator.act("exec", "e1", "approve", { assignee: "ann" });
    await coordinator.runAsync({ tasks: source, runId: "exec" });
    expect(await coordinator.task("exec", "e1")).toMatchObject({ stageId: "complete", state: "completed" });
  }, 120_000);
});

describeRedis("stages fed by queues: a worker process SIGKILLed mid-queue", () => {
  it("its jobs go to the other worker; every task's result is applied and each task moves once", async () => {
    const prefix = uniquePrefix("stages-kill");
    closers.push(() => dropPrefix(prefix));
    const { workflow: exampleWorkflow } = await import("../examples/stages-queue/workflow.js");
    const store = new RedisStore({ connection: REDIS_URL, prefix });
    closers.push(() => store.close());
    const coordinator = new StageRunner<{ text: string }>(exampleWorkflow, { store });
    const source = new MemoryTaskSource(
      Array.from({ length: 60 }, (_, i) => ({ id: `k${String(i).padStart(2, "0")}`, data: { text: i % 10 === 0 ? "" : `Word ${i}` } })),
    );
    await coordinator.runAsync({ tasks: source, runId: "kill" });

    const workerScript = fileURLToPath(new URL("../examples/stages-queue/worker.ts", import.meta.url));
    const applied = new Map<number, number>();
    const spawnWorker = () => {
      const child = spawn(process.execPath, ["--import", "tsx", workerScript], {
        env: { ...process.env, REDIS_URL, PREFIX: prefix, LOCK_MS: "1500", AGENT_MS: "40" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      closers.push(async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          await new Promise((resolve) => child.once("exit", resolve));
        }
      });
      const ready = new Promise<void>((resolve) => {
        child.stdout.on("data", (d: Buffer) => {
          for (const line of d.toString().split("\n")) {
            if (line.endsWith(": ready")) resolve();
            if (line.includes(" → ")) applied.set(child.pid ?? 0, (applied.get(child.pid ?? 0) ?? 0) + 1);
          }
        });
      });
      return { child, ready };
    };
    const victim = spawnWorker();
    const survivor = spawnWorker();
    await Promise.all([victim.ready, survivor.ready]);

    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    closers.push(async () => connection.disconnect());
    const queue = new Queue("pre-label", { connection, prefix });
    closers.push(() => queue.close());
    const due = await coordinator.tasksAt("pre-label", { runId: "kill", limit: 100 });
    await queue.addBulk(due.map((d) => ({ name: "kill", data: d.spec, opts: { jobId: d.jobId } })));
    for (let i = 0; (applied.get(victim.child.pid ?? 0) ?? 0) < 5; i++) {
      if (i > 3_000) throw new Error("the victim worker applied nothing");
      await new Promise((r) => setTimeout(r, 5));
    }
    victim.child.kill("SIGKILL"); // mid-queue: some of its jobs are running, some results applied
    await new Promise((resolve) => victim.child.once("exit", resolve));
    for (let i = 0; ; i++) {
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized", "completed");
      if (counts.completed === 60 && (counts.waiting ?? 0) + (counts.active ?? 0) + (counts.delayed ?? 0) + (counts.prioritized ?? 0) === 0) break;
      if (i > 1_200) throw new Error(`the queue did not drain: ${JSON.stringify(counts)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(applied.get(survivor.child.pid ?? 0) ?? 0).toBeGreaterThan(0);
    const moves: StageEventMap["task:move"][] = [];
    coordinator.events.on("task:move", (e) => void moves.push(e));
    const report = await coordinator.runAsync({ tasks: source, runId: "kill" });
    expect(report.failed).toEqual([]);
    expect(report.byStage).toEqual({ archive: 6, review: 54 });
    expect(moves).toHaveLength(60);
    expect(new Set(moves.map((m) => m.taskId)).size).toBe(60);
    expect(await coordinator.tasksAt("pre-label", { runId: "kill" })).toEqual([]);
  }, 180_000);
});
