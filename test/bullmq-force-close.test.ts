/**
 * `worker.close(true)` with bodies running: each body's signal aborts with
 * a reason that says so, the worker reports nothing and BullMQ ends no job
 * (neither completed nor failed): the job stays active until its lock
 * expires, and another worker runs it, as for a worker that died. What the
 * aborted body does afterwards through its context reaches no one, and
 * neither throws unhandled nor hangs. `close()` without force still waits.
 */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { graph, MemoryStore, run, type NodeContext, type RunHandle } from "../src/index.js";
import { bullmqExecutor, createWorker, WorkerJobLeftError, type TaskloomWorker } from "../src/adapters/bullmq/index.js";
import { bullmqConnection } from "../src/adapters/bullmq/connection.js";
import { deferred, rejection, unhandledDuring, until } from "./support/async.js";
import { attemptJobId, describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** What the first run of the body saw: its abort's reason, and what its context did once the test let it go on. */
interface FirstRun {
  reason?: unknown;
  emitError?: unknown;
  stepError?: unknown;
  waitError?: unknown;
  stepRan: boolean;
  finished: boolean;
}

/**
 * A graph whose node "a" returns "second" from its second run on; its first run waits for its signal, records the
 * reason, waits for `goOn`, then goes on as a body that ignores its signal would: it emits, calls a step and a wait,
 * and returns "first".
 */
function makeGraph(goOn: Promise<void>) {
  const first: FirstRun = { stepRan: false, finished: false };
  let runs = 0;
  const body = async (ctx: NodeContext): Promise<string> => {
    if (++runs > 1) return "second";
    await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
    first.reason = ctx.signal.reason;
    await goOn;
    try {
      ctx.emit("late", { from: "the first run" });
    } catch (error) {
      first.emitError = error;
    }
    first.stepError = await rejection(
      ctx.step("late-step", () => {
        first.stepRan = true;
        return 1;
      }),
    );
    first.waitError = await rejection(ctx.waitFor("late-wait"));
    first.finished = true;
    return "first";
  };
  const g = graph("force-close")
    .node("a", body)
    .output((o) => o.a)
    .build();
  return { g, first, runs: () => runs };
}

/** A coordinator and a worker on a queue of their own; the worker's client is the test's, so it stays open after close. */
function setup(label: string, g: ReturnType<typeof makeGraph>["g"]) {
  const prefix = uniquePrefix(label);
  const client = new Redis(REDIS_URL);
  const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
  const queue = new Queue("q", { connection: bullmqConnection(REDIS_URL), prefix });
  const workers: TaskloomWorker[] = [];
  closers.push(async () => {
    for (const worker of workers) await worker.close(true);
    await executor.close();
    await queue.close();
    client.disconnect();
    await dropPrefix(prefix);
  });
  const startWorker = (): TaskloomWorker => {
    // A short lock, and a quick stalled check: the job left by close(true) runs again within a second or two.
    const worker = createWorker({ connection: client, prefix, queue: "q", graphs: [g], lockDurationMs: 1_000, stalledIntervalMs: 200 });
    workers.push(worker);
    return worker;
  };
  return { executor, queue, startWorker };
}

/** Every event of `handle` by name, in order. */
function record(handle: RunHandle<unknown>) {
  const seen: { name: string; payload: Record<string, unknown> }[] = [];
  for (const name of ["node:start", "node:retry", "node:success", "node:error", "node:event"] as const) {
    handle.events.on(name, (payload) => void seen.push({ name, payload: payload as unknown as Record<string, unknown> }));
  }
  return seen;
}

function expectForceCloseReason(reason: unknown, jobId: string): void {
  expect(reason).toBeInstanceOf(WorkerJobLeftError);
  expect(reason).toMatchObject({ code: "WORKER_JOB_LEFT", jobId });
  const message = (reason as Error).message;
  expect(message).toContain("closed with force");
  expect(message).toContain(`job "${jobId}"`);
  expect(message).toMatch(/another worker once its lock expires/);
}

/** Resolves once `worker` completed the BullMQ job `jobId`. */
function completedBy(worker: TaskloomWorker, jobId: string): Promise<void> {
  return new Promise((resolve) => worker.worker.on("completed", (job) => job.id === jobId && resolve()));
}

describeRedis("worker.close(true) with a body running", () => {
  it("aborts the body's signal, leaves its job active (not failed) for another worker, whose result is the run's", async () => {
    const goOn = deferred();
    const { g, first, runs } = makeGraph(goOn.promise);
    const { executor, queue, startWorker } = setup("force-close", g);
    const a = startWorker();
    const failedInA: string[] = [];
    a.worker.on("failed", (job) => void failedInA.push(job?.id ?? "?"));
    await a.waitUntilReady();
    const store = new MemoryStore();
    const handle = run(g, undefined, { runId: "fc-1", store, executor });
    const events = record(handle);
    const jobId = await attemptJobId(store, "fc-1", "a", 1);
    await until(() => runs() === 1, "the first run of the body");

    const unhandled = await unhandledDuring(async () => {
      await a.close(true);
      await until(() => first.reason !== undefined, "the first run's signal aborted");
      expectForceCloseReason(first.reason, jobId);
      // Neither completed nor failed: BullMQ keeps the job active until its lock expires.
      expect(await queue.getJobState(jobId)).toBe("active");
      // The body goes on after the worker closed: its calls settle, and none reaches the run.
      goOn.resolve();
      await until(() => first.finished, "the first run to finish its late calls");
    });
    expect(unhandled).toEqual([]);
    expect(first.emitError).toBeUndefined();
    expect(first.stepError).toBe(first.reason);
    expect(first.waitError).toBe(first.reason);
    expect(first.stepRan).toBe(false);

    const b = startWorker();
    const completed = completedBy(b, jobId);
    expect(await handle.result()).toBe("second");
    await completed;
    expect(runs()).toBe(2);
    expect(failedInA).toEqual([]);
    expect(events.map((e) => e.name)).toEqual(["node:start", "node:success"]);
    expect(events[1]?.payload).toMatchObject({ nodeId: "a", attempt: 1, output: "second" });
  }, 30_000);

  it("close(true) while close() waits aborts the bodies it waits for: both resolve, and another worker runs the job", async () => {
    const { g, first, runs } = makeGraph(Promise.resolve());
    const { executor, queue, startWorker } = setup("force-after-close", g);
    const a = startWorker();
    const failedInA: string[] = [];
    a.worker.on("failed", (job) => void failedInA.push(job?.id ?? "?"));
    await a.waitUntilReady();
    const store = new MemoryStore();
    const handle = run(g, undefined, { runId: "fc-2", store, executor });
    const events = record(handle);
    const jobId = await attemptJobId(store, "fc-2", "a", 1);
    await until(() => runs() === 1, "the first run of the body");

    let settled = 0;
    const count = (): void => void settled++;
    const graceful = a.close();
    void graceful.then(count);
    void a.close(true).then(count);
    void a.close(true).then(count); // twice: resolves with the others
    await until(() => settled === 3, "every close() to resolve");
    await graceful;
    expectForceCloseReason(first.reason, jobId);
    expect(await queue.getJobState(jobId)).toBe("active");
    await until(() => first.finished, "the first run to finish");

    const b = startWorker();
    const completed = completedBy(b, jobId);
    expect(await handle.result()).toBe("second");
    await completed;
    expect(runs()).toBe(2);
    expect(failedInA).toEqual([]);
    expect(events.map((e) => e.name)).toEqual(["node:start", "node:success"]);
  }, 30_000);

  it("close() without force still waits for the body and reports its result", async () => {
    const release = deferred();
    let signal: AbortSignal | undefined;
    const g = graph("force-close")
      .node("a", async (ctx) => {
        signal = ctx.signal;
        await release.promise;
        return "only";
      })
      .output((o) => o.a)
      .build();
    const { executor, startWorker } = setup("close-waits", g);
    const a = startWorker();
    await a.waitUntilReady();
    const store = new MemoryStore();
    const handle = run(g, undefined, { runId: "fc-3", store, executor });
    await until(() => signal !== undefined, "the body to start");
    const completed = completedBy(a, await attemptJobId(store, "fc-3", "a", 1)); // the body waits for release: not completed yet
    const closing = a.close();
    release.resolve();
    await closing;
    await completed; // by this worker, which waited for the body
    expect(signal?.aborted).toBe(false);
    expect(await handle.result()).toBe("only");
  }, 30_000);
});
