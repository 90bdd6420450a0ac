/**
 * A coordinator whose jobs end unheard. First, its events reader loses events: BullMQ trims the queue's
 * events stream at each write (to about 10,000 entries; one `addBulk` of
 * 5,000 jobs writes that many), so a `failed` event may be deleted before
 * the paced reader reads it. Here a writer floods the stream, each entry
 * trimming all before it, so nearly every event of the job is gone before
 * the reader's next read: the executor must learn a job's end from the
 * queue itself (a job gone with no result failed outside its body), never
 * wait for it forever, and never take a job that still runs for ended.
 * Then jobs removed from the queue: alone (`Job.remove`, a `removed`
 * event), in bulk (`Queue.clean`, one `cleaned` event naming none), or
 * with no event at all (`Queue.drain`, seen by the sweep at each
 * `RECONCILE_EVERY_MS`): the attempt fails, as its job's failure would.
 */
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, expect, it, vi } from "vitest";
import { graph, MemoryStore, NodeFailedError, runAsync } from "../src/index.js";
import { bullmqExecutor, createWorker } from "../src/adapters/bullmq/index.js";
import { RECONCILE_EVERY_MS } from "../src/adapters/bullmq/executor.js";
import { bullmqConnection } from "../src/adapters/bullmq/connection.js";
import { WorkerJobFailedError } from "../src/adapters/worker-errors.js";
import { attemptJobId, describeRedis, dropPrefix, eventually, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Writes entries to the queue's events stream without pause, each trimming the stream to itself, until stopped. */
function flood(prefix: string): () => Promise<void> {
  const client = new Redis(REDIS_URL);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) await client.xadd(`${prefix}:q:events`, "MAXLEN", "1", "*", "event", "flood");
  })();
  const stop = async () => {
    stopped = true;
    await loop;
    client.disconnect();
  };
  closers.push(stop);
  return stop;
}

/** `promise`, or a rejection naming `what` after `ms` (a hang would otherwise end only with the test's timeout). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms: ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describeRedis("bullmqExecutor when its jobs end unheard", () => {
  it("fails the attempt of a job that failed outside its body, its failure trimmed away unread", async () => {
    const prefix = uniquePrefix("lost-failed");
    closers.push(() => dropPrefix(prefix));
    const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
    closers.push(() => executor.close());
    // A BullMQ worker that is not taskloom's: its jobs fail in BullMQ and store no result, as a job does when its
    // worker stalls more often than BullMQ allows.
    const raw = new Worker(
      "q",
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 200));
        throw new Error("failed outside the body");
      },
      { connection: bullmqConnection(REDIS_URL), prefix },
    );
    closers.push(() => raw.close());
    await raw.waitUntilReady();
    flood(prefix);
    const g = graph("lost-failed")
      .node("a", async () => "never runs here")
      .build();
    const error = await within(
      runAsync(g, undefined, { runId: "lost-1", store: new MemoryStore(), executor, retry: { maxAttempts: 1 } }).catch((e: unknown) => e),
      15_000,
      "the attempt of a job that failed",
    );
    expect(error).toBeInstanceOf(NodeFailedError);
    expect((error as NodeFailedError).cause).toBeInstanceOf(WorkerJobFailedError);
    expect(((error as NodeFailedError).cause as WorkerJobFailedError).jobId).toContain("lost-1");
  }, 30_000);

  it("lets a job that runs long under the flood finish: a job still in the queue is not taken for ended", async () => {
    const prefix = uniquePrefix("lost-live");
    closers.push(() => dropPrefix(prefix));
    const g = graph("lost-live")
      .node("a", async () => {
        await new Promise((resolve) => setTimeout(resolve, 600));
        return "done";
      })
      .node("b", async ({ deps }) => `${deps.a} twice`, { after: ["a"] })
      .build();
    const worker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [g], concurrency: 2 });
    closers.push(() => worker.close());
    const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
    closers.push(() => executor.close());
    await worker.waitUntilReady();
    flood(prefix);
    const out = await within(
      runAsync(g, undefined, { runId: "live-1", store: new MemoryStore(), executor, retry: { maxAttempts: 1 } }),
      15_000,
      "a run of two jobs",
    );
    expect(out).toEqual({ a: "done", b: "done twice" });
  }, 30_000);

  /** A run of one node with no worker to take its job, and the way to the job once it waits in the queue. */
  async function waitingJob(label: string) {
    const prefix = uniquePrefix(label);
    closers.push(() => dropPrefix(prefix));
    const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
    closers.push(() => executor.close());
    const g = graph(label)
      .node("a", async () => "never runs")
      .build();
    const runId = `${label}-1`;
    const store = new MemoryStore();
    const outcome = runAsync(g, undefined, { runId, store, executor, retry: { maxAttempts: 1 } }).catch((e: unknown) => e);
    const jobId = await attemptJobId(store, runId, "a", 1);
    const job = await eventually("the job in the queue", async () => (await executor.queue.getJob(jobId)) ?? undefined);
    return { queue: executor.queue, job, outcome };
  }

  /** That `outcome` is the run's failure, its attempt's cause a `WorkerJobFailedError` saying the job left the queue. */
  async function expectJobGone(outcome: Promise<unknown>, what: string): Promise<void> {
    const error = await within(outcome, 15_000, what);
    expect(error).toBeInstanceOf(NodeFailedError);
    const cause = (error as NodeFailedError).cause;
    expect(cause).toBeInstanceOf(WorkerJobFailedError);
    expect((cause as WorkerJobFailedError).message).toContain("left the queue without a result");
  }

  it("fails the attempt of a job removed from the queue (Job.remove)", async () => {
    const { job, outcome } = await waitingJob("removed-job");
    await job.remove();
    await expectJobGone(outcome, "the attempt of a removed job");
  }, 30_000);

  it("fails the attempt of a job removed in bulk (Queue.clean, one event that names no job)", async () => {
    const { queue, outcome } = await waitingJob("cleaned-jobs");
    expect(await queue.clean(0, 100, "wait")).toHaveLength(1);
    await expectJobGone(outcome, "the attempt of a cleaned job");
  }, 30_000);

  it("fails the attempt of a job removed with no event (Queue.drain) at the next sweep", async () => {
    // Only the executor's sweep runs on setInterval here (BullMQ's Queue and ioredis set none): its time is the test's.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      const { queue, outcome } = await waitingJob("drained-jobs");
      await queue.drain();
      expect(await queue.getJobCounts("wait")).toEqual({ wait: 0 });
      let settled = false;
      void outcome.then(() => (settled = true));
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false); // no event came: only the sweep can tell
      vi.advanceTimersByTime(RECONCILE_EVERY_MS);
      await expectJobGone(outcome, "the attempt of a drained job");
    } finally {
      vi.useRealTimers();
    }
  }, 30_000);
});
