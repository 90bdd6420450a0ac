/**
 * The BullMQ executor and worker in one process (the cross-process cases
 * are in bullmq-cluster.test.ts): the node context in a worker (`step`,
 * `emit`, `waitFor` through the coordinator), errors that keep their class,
 * a worker without the graph, and job handlers as BullMQ processors.
 */
import { Queue, QueueEvents, Worker } from "bullmq";
import { afterEach, expect, it } from "vitest";
import { graph, GraphHasPendingWaits, MemoryStore, NodeFailedError, NonRetryableError, resolveWait, route, runAsync, type RunEventMap } from "../src/index.js";
import { storeLeftRun } from "./support/stored-run.js";
import { bullmqExecutor, createWorker, jobHandlerProcessor, jobIdOf, RedisStore, type TaskloomWorker } from "../src/adapters/bullmq/index.js";
import { Redis } from "ioredis";
import { nodeRecords } from "../src/state/node-table.js";
import { bullmqConnection } from "../src/adapters/bullmq/connection.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

function cluster(label: string, graphs: Parameters<typeof createWorker>[0]["graphs"]) {
  const prefix = uniquePrefix(label);
  const worker: TaskloomWorker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs, concurrency: 4 });
  const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
  const store = new RedisStore({ connection: REDIS_URL, prefix });
  closers.push(() => dropPrefix(prefix));
  closers.push(() => worker.close());
  closers.push(() => executor.close());
  closers.push(() => store.close());
  return { prefix, worker, executor, store };
}

describeRedis("BullMQ executor and worker", () => {
  it("journals a worker's steps, forwards its events and waits through the coordinator", async () => {
    let stepRuns = 0;
    const g = graph("remote-ctx")
      .input<{ x: number }>()
      .node(
        "a",
        async ({ step, emit, waitFor, attempt, inputs }) => {
          const s = await step("once", async () => {
            stepRuns += 1;
            return { doubled: inputs.x * 2, at: new Date(Date.UTC(2026, 10, 23)) };
          });
          emit("progress", { attempt, doubled: s.doubled });
          if (attempt === 1) throw new Error("fails after its step on attempt 1");
          const approval = await waitFor<{ ok: boolean }>("approve:1");
          return { s, approval };
        },
        { retry: { maxAttempts: 2, backoff: { initialMs: 1, jitter: false } } },
      )
      .output((o) => o.a)
      .build();
    const { store, executor, worker } = cluster("ctx", [g]);
    await worker.waitUntilReady();
    const events: RunEventMap["node:event"][] = [];
    const first = await runAsync(g, { x: 5 }, { runId: "ctx-1", store, executor }).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(GraphHasPendingWaits);
    expect(stepRuns).toBe(1); // attempt 2 got the journaled value
    const stored = await store.load("ctx-1");
    expect(stored?.state.meta.status).toBe("waiting");

    await resolveWait("ctx-1", "approve:1", { ok: true }, { store });
    const { run } = await import("../src/index.js");
    const handle = run(g, { x: 5 }, { runId: "ctx-1", store, executor });
    handle.events.on("node:event", (e) => events.push(e));
    const out = await handle.result();
    expect(out).toEqual({ s: { doubled: 10, at: new Date(Date.UTC(2026, 10, 23)) }, approval: { ok: true } });
    expect(stepRuns).toBe(1); // the resumed run replays the step from the journal too
    expect(events.map((e) => [e.nodeId, e.name, e.data])).toContainEqual(["a", "progress", { attempt: 2, doubled: 10 }]);
  });

  it("does not fail an attempt with the failure of an earlier job of the same id (a stopped run's cancel, read late)", async () => {
    const g = graph("stale-failed")
      .node("a", async () => {
        await new Promise((resolve) => setTimeout(resolve, 150));
        return "ok";
      })
      .build();
    const warm = graph("warm")
      .node("w", () => 1)
      .build();
    const { prefix, worker, executor } = cluster("stale", [g, warm]);
    await worker.waitUntilReady();
    // A first run makes the executor's events reader read its events, then pause: what comes next is read together.
    await runAsync(warm, undefined, { runId: "warm-1", store: new MemoryStore(), executor });
    const redis = new Redis(REDIS_URL);
    closers.push(async () => void redis.disconnect());
    // What a stopped run's cancelled job leaves in the stream: its failure, under the id the next attempt takes
    // (the run is stored with its mark, and resumed: attempts start again at 1).
    const store = new MemoryStore();
    const mark = "stale-mark";
    await storeLeftRun(store, g, "stale-1", { instance: mark });
    const jobId = jobIdOf("stale-1", "a", 1, mark);
    await redis.xadd(`${prefix}:q:events`, "*", "event", "failed", "jobId", jobId, "failedReason", "cancelled by the coordinator: the run stopped");
    const out = await runAsync(g, undefined, { runId: "stale-1", store, executor, retry: { maxAttempts: 1 } });
    expect(out.a).toBe("ok");
  });

  it("runs a routing loop on workers: visits, triggers and route choices travel both ways", async () => {
    const seen: string[] = [];
    const g = graph("remote-loop")
      .node("draft", ({ visit, trigger }) => {
        seen.push(`draft#${visit}:${String(trigger?.route)}`);
        return { version: visit };
      })
      .node("check", ({ deps }) => (deps.draft.version >= 3 ? route("accept", deps.draft) : route("revise", deps.draft.version)), {
        after: ["draft"],
        routes: { accept: "publish", revise: "draft", drop: "discard" },
      })
      .node("publish", ({ trigger }) => `published v${(trigger?.value as { version: number }).version}`)
      .node("discard", () => "discarded")
      .build();
    const { store, executor, worker } = cluster("loop", [g]);
    await worker.waitUntilReady();
    const out = await runAsync(g, undefined, { runId: "loop-1", store, executor, maxConcurrency: 2 });
    expect(out.publish).toBe("published v3");
    expect(out.discard).toBeUndefined();
    expect(seen).toEqual(["draft#1:undefined", "draft#2:revise", "draft#3:revise"]);
    const stored = await store.load("loop-1");
    const records = stored ? [...nodeRecords(stored.state.nodes)] : [];
    expect(records.find((n) => n.id === "check#3")?.route).toBe("accept");
    expect(records.find((n) => n.id === "discard")?.status).toBe("skipped");
  });

  it("keeps a NonRetryableError thrown in a worker non-retryable", async () => {
    let calls = 0;
    const g = graph("non-retryable")
      .node("charge", () => {
        calls += 1;
        throw new NonRetryableError("no card on file");
      })
      .build();
    const { executor, worker } = cluster("nonretry", [g]);
    await worker.waitUntilReady();
    const err = await runAsync(g, undefined, { store: new MemoryStore(), executor, retry: { maxAttempts: 3 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    expect((err as NodeFailedError).cause).toBeInstanceOf(NonRetryableError);
    expect(calls).toBe(1);
  });

  it("refuses unknown options of a worker's waitFor and step, as in the coordinator", async () => {
    const waits = graph("remote-wait-options")
      .node("wait", ({ waitFor }) => waitFor("k", { timeout: 5_000 } as never), { retry: { maxAttempts: 1 } })
      .build();
    const steps = graph("remote-step-options")
      .node("step", ({ step }) => (step as (n: string, f: () => number, o: object) => Promise<number>)("s", () => 1, { retry: {} }), {
        retry: { maxAttempts: 1 },
      })
      .build();
    const { executor, worker } = cluster("remote-options", [waits, steps]);
    await worker.waitUntilReady();
    const waitErr = await runAsync(waits, undefined, { store: new MemoryStore(), executor }).catch((e: unknown) => e);
    expect(waitErr).toBeInstanceOf(NodeFailedError);
    // Across the wire an error keeps its class name, code and message (not its other fields).
    expect((waitErr as NodeFailedError).cause).toMatchObject({ code: "INVALID_OPTION" });
    expect(((waitErr as NodeFailedError).cause as Error).message).toContain('option timeout of waitFor("k") is not known (did you mean "timeoutMs"?)');
    const stepErr = await runAsync(steps, undefined, { store: new MemoryStore(), executor }).catch((e: unknown) => e);
    expect(stepErr).toBeInstanceOf(NodeFailedError);
    expect((stepErr as NodeFailedError).cause).toMatchObject({ code: "INVALID_OPTION" });
    expect(((stepErr as NodeFailedError).cause as Error).message).toContain('option retry of step("s") in a node is not known; it takes no options');
  });

  it("fails the job of a graph the worker does not have, with an error naming the graph", async () => {
    const known = graph("known")
      .node("x", () => 1)
      .build();
    const orphan = graph("orphan")
      .node("y", () => 2)
      .build();
    const { executor, worker } = cluster("missing", [known]);
    const failed: string[] = [];
    worker.worker.on("failed", (_job, error) => failed.push(error.message));
    await worker.waitUntilReady();
    const err = await runAsync(orphan, undefined, { store: new MemoryStore(), executor, retry: { maxAttempts: 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    const cause = (err as NodeFailedError).cause as Error & { code?: string };
    expect(cause.code).toBe("WORKER_GRAPH_MISSING");
    expect(cause.message).toMatch(/no graph "orphan" \(it has "known"\)/);
    await expect.poll(() => failed).toEqual([expect.stringContaining('graph "orphan"')]);
  });

  it("tells a worker with another version of a graph apart", async () => {
    const v1 = graph("versioned")
      .node("x", () => 1)
      .build();
    const v2 = graph("versioned")
      .node("x", () => 1)
      .node("z", () => 3)
      .build();
    const { executor, worker } = cluster("version", [v1]);
    await worker.waitUntilReady();
    const err = await runAsync(v2, undefined, { store: new MemoryStore(), executor, retry: { maxAttempts: 1 } }).catch((e: unknown) => e);
    expect(((err as NodeFailedError).cause as Error).message).toMatch(/another version of graph "versioned"/);
  });

  it("runs map elements in workers, each with its item and index", async () => {
    const g = graph("mapped")
      .node("list", () => ["a", "b", "c"])
      .map("upper", "list", ({ item, index }) => `${index}:${item.toUpperCase()}`)
      .output((o) => o.upper)
      .build();
    const { executor, worker } = cluster("map", [g]);
    await worker.waitUntilReady();
    expect(await runAsync(g, undefined, { store: new MemoryStore(), executor })).toEqual(["0:A", "1:B", "2:C"]);
  });

  it("uses a JSON-in / JSON-out job handler as a BullMQ processor", async () => {
    const prefix = uniquePrefix("handler");
    closers.push(() => dropPrefix(prefix));
    const handler = async (json: string): Promise<string> => {
      const task = JSON.parse(json) as { taskId: string; text: string };
      return JSON.stringify({ taskId: task.taskId, pathway: task.text.length > 3 ? "long" : "short" });
    };
    const connection = bullmqConnection(REDIS_URL);
    const worker = new Worker("triage", jobHandlerProcessor(handler), { connection, prefix });
    const queue = new Queue("triage", { connection, prefix });
    const events = new QueueEvents("triage", { connection, prefix });
    closers.push(() => events.close());
    closers.push(() => queue.close());
    closers.push(() => worker.close());
    await events.waitUntilReady();
    const asString = await queue.add("triage", JSON.stringify({ taskId: "t1", text: "hello" }));
    const asObject = await queue.add("triage", { taskId: "t2", text: "hi" });
    expect(JSON.parse((await asString.waitUntilFinished(events)) as string)).toEqual({ taskId: "t1", pathway: "long" });
    expect(JSON.parse((await asObject.waitUntilFinished(events)) as string)).toEqual({ taskId: "t2", pathway: "short" });
  });

  it("leaves its jobs to the coordinator that took the run over live: the body runs once, is never aborted, and the new coordinator takes its result", async () => {
    let starts = 0;
    let aborts = 0;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const g = graph("live-takeover")
      .node("slow", async ({ signal }) => {
        starts += 1;
        signal.addEventListener("abort", () => (aborts += 1));
        started();
        await gate;
        return "done once";
      })
      .build();
    const { prefix, executor, worker } = cluster("takeover", [g]);
    await worker.waitUntilReady();
    // Two coordinators, each with its own store object and executor, as on two hosts.
    const storeB = new RedisStore({ connection: REDIS_URL, prefix });
    const executorB = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
    closers.push(
      () => storeB.close(),
      () => executorB.close(),
    );
    const storeA = new RedisStore({ connection: REDIS_URL, prefix });
    closers.push(() => storeA.close());
    const { run } = await import("../src/index.js");
    const a = run(g, undefined, { runId: "live-1", store: storeA, executor, leaseTtlMs: 600 });
    const aEnded = a.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    await running;
    const b = run(g, undefined, { runId: "live-1", store: storeB, executor: executorB, takeover: true });
    // A learns of the takeover when it renews its lease (every 200 ms here) and stops driving the run.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- vitest types its asymmetric matchers (expect.any, objectContaining, stringMatching) as any
    expect(await aEnded).toMatchObject({ code: expect.stringMatching(/^(LEASE_LOST|RUN_LOCKED)$/) });
    open();
    expect(await b.result()).toEqual({ slow: "done once" });
    expect(starts).toBe(1);
    expect(aborts).toBe(0);
    const stored = await storeB.load("live-1");
    expect(stored?.state.meta.status).toBe("succeeded");
    expect(stored && [...nodeRecords(stored.state.nodes)].find((n) => n.id === "slow")).toMatchObject({ status: "succeeded", attempts: 1 });
  });
});
