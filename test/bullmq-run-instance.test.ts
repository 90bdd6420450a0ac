/**
 * A run deleted and started again under the same id never takes the
 * deleted run's remote work: BullMQ job ids carry the run's random mark
 * (`RunMeta.instance`, `NodeActivation.runInstance`), set when a run is
 * created and kept across resumes. Before the mark, a
 * job id was `<runId>/<activationId>/<attempt>` alone, so the new run's
 * first attempt attached to the deleted run's job still in the queue (BullMQ
 * ignores an add with an existing id) and took the result of a body run
 * with the deleted run's inputs, or took the result that job had stored.
 */
import { afterEach, expect, it } from "vitest";
import { deleteRun, getRun, graph, MemoryStore, run, runAsync } from "../src/index.js";
import { bullmqExecutor, createWorker, jobIdOf, type TaskloomWorker } from "../src/adapters/bullmq/index.js";
import { channelKeys, decodeActivation, encodeActivation } from "../src/adapters/bullmq/job-payload.js";
import { Redis } from "ioredis";
import { storeLeftRun } from "./support/stored-run.js";
import { describeRedis, dropPrefix, eventually, REDIS_URL, uniquePrefix } from "./support/redis.js";
import { tempStores } from "./support/temp-stores.js";
import { checkSnapshot } from "../src/persistence/snapshot-schema.js";

const { tempDir, lowdb } = tempStores("taskloom-instance-");

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Bodies run, by the run's input. */
const ran: number[] = [];

/** One node that doubles its run's input. */
const doubler = graph("instance-doubler")
  .input<{ v: number }>()
  .node("a", async ({ inputs }) => {
    ran.push(inputs.v);
    return inputs.v * 2;
  })
  .output((o) => o.a)
  .build();

function worker(prefix: string): TaskloomWorker {
  const w = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [doubler], concurrency: 4 });
  closers.push(() => w.close());
  return w;
}

function executor(prefix: string): ReturnType<typeof bullmqExecutor> {
  const e = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
  closers.push(() => e.close());
  return e;
}

/**
 * Leaves what a coordinator that stopped without cleaning up leaves: run
 * `runId` (inputs `{ v: input }`) started with no worker, its job queued, then
 * its executor closed (the attempt fails, the job stays for a resume).
 * Returns the deleted run's job id.
 */
async function leaveQueuedJob(prefix: string, store: MemoryStore, runId: string, input = 1): Promise<string> {
  const first = executor(prefix);
  const handle = run(doubler, { v: input }, { runId, store, executor: first, retry: { maxAttempts: 1 } });
  const jobId = await eventually("the first run's job in the queue", async () => {
    const jobs = await first.queue.getJobs(["waiting", "prioritized", "delayed"]);
    return jobs.find((j) => decodeActivation(j.data).runId === runId)?.id;
  });
  await first.close();
  await expect(handle.result()).rejects.toThrow();
  return jobId;
}

describeRedis("bullmqExecutor: a run deleted and started again under its id", () => {
  it("never attaches to the deleted run's job still in the queue", async () => {
    const prefix = uniquePrefix("inst-queued");
    closers.push(() => dropPrefix(prefix));
    const store = new MemoryStore();
    const oldJob = await leaveQueuedJob(prefix, store, "again-1");
    expect(await deleteRun("again-1", { store })).toBe(true);

    const second = executor(prefix);
    const handle = run(doubler, { v: 21 }, { runId: "again-1", store, executor: second });
    const { instance } = await eventually("the second run stored", async () => (await store.load("again-1")) && (await getRun("again-1", { store })));
    expect(instance).toMatch(/^[0-9a-f]{12}$/);
    await eventually("the second run's own job", async () => ((await second.queue.getJob(jobIdOf("again-1", "a", 1, instance))) ? true : undefined));
    worker(prefix); // only now can any job run: the deleted run's ({ v: 1 }) and the new one's ({ v: 21 })
    expect(await handle.result()).toBe(42);
    expect(oldJob).not.toBe(jobIdOf("again-1", "a", 1, instance));
  }, 60_000);

  it("never takes the result a deleted run's job stored after its coordinator stopped", async () => {
    const prefix = uniquePrefix("inst-stored");
    closers.push(() => dropPrefix(prefix));
    const store = new MemoryStore();
    const oldJob = await leaveQueuedJob(prefix, store, "again-2");
    const w = worker(prefix);
    await w.waitUntilReady();
    // The deleted run's job ran and reported ({ v: 1 } doubled) with no coordinator to take it.
    const client = new Redis(REDIS_URL);
    closers.push(async () => void client.disconnect());
    const results = channelKeys(prefix, "q").results("again-2");
    await eventually("the deleted run's job done", async () => ((await client.hget(results, oldJob)) !== null ? true : undefined));
    expect(await deleteRun("again-2", { store })).toBe(true);

    expect(await runAsync(doubler, { v: 50 }, { runId: "again-2", store, executor: executor(prefix) })).toBe(100);
  }, 60_000);

  it("keeps the mark across a resume, so a takeover attaches to the job it left", async () => {
    const prefix = uniquePrefix("inst-resume");
    closers.push(() => dropPrefix(prefix));
    const store = new MemoryStore();
    const jobId = await leaveQueuedJob(prefix, store, "again-3", 3);
    const before = (await getRun("again-3", { store })).instance;
    expect(jobId).toBe(jobIdOf("again-3", "a", 1, before));

    // A resume starts the failed node's attempts again at 1: under the same mark, that is the job the first
    // coordinator left, which the resumer attaches to (no second job for it).
    const resumer = executor(prefix);
    const handle = run(doubler, undefined, { runId: "again-3", store, executor: resumer });
    worker(prefix);
    expect(await handle.result()).toBe(6);
    expect(ran.filter((v) => v === 3)).toEqual([3]); // one body in all: the resumer attached to the job left
    expect((await getRun("again-3", { store })).instance).toBe(before);
    expect((await getRun("again-3", { store })).starts).toBe(2);
  }, 60_000);
});

it("gives every new run a fresh mark, with or without an executor, and hands it to the executor", async () => {
  const store = new MemoryStore();
  await runAsync(doubler, { v: 1 }, { runId: "plain", store });
  const plain = (await getRun("plain", { store })).instance;
  expect(plain).toMatch(/^[0-9a-f]{12}$/);
  expect((await store.load("plain"))?.state.meta.instance).toBe(plain);

  const seen: (string | undefined)[] = [];
  const recording = {
    execute: (a: { inputs: unknown; runInstance?: string }) => {
      seen.push(a.runInstance);
      return Promise.resolve((a.inputs as { v: number }).v * 2);
    },
  };
  await runAsync(doubler, { v: 1 }, { runId: "marked", store, executor: recording });
  const first = (await getRun("marked", { store })).instance;
  expect(first).toMatch(/^[0-9a-f]{12}$/);
  expect(seen).toEqual([first]);
  await deleteRun("marked", { store });
  await runAsync(doubler, { v: 1 }, { runId: "marked", store, executor: recording });
  const second = (await getRun("marked", { store })).instance;
  expect(second).toMatch(/^[0-9a-f]{12}$/);
  expect(second).not.toBe(first);
  expect(seen).toEqual([first, second]);
});

describeRedis("ctx.runInstance in a BullMQ worker", () => {
  it("is the run's mark, as in the coordinator (a body puts it in a link that resolves a wait)", async () => {
    const prefix = uniquePrefix("inst-ctx");
    closers.push(() => dropPrefix(prefix));
    const echo = graph("instance-echo")
      .node("mark", ({ runInstance }) => runInstance ?? "none")
      .output((o) => o.mark)
      .build();
    const w = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [echo] });
    closers.push(() => w.close());
    const store = new MemoryStore();
    const remote = await runAsync(echo, undefined, { runId: "echo", store, executor: executor(prefix) });
    expect(remote).toBe((await getRun("echo", { store })).instance);
    expect(remote).toMatch(/^[0-9a-f]{12}$/);
  });
});

it("leaves a run stored before the mark was kept without one when it is resumed, so its job ids stay as they were", async () => {
  const store = new MemoryStore();
  await storeLeftRun(store, doubler, "old", { inputs: { v: 2 } }); // no mark
  const seen: { runInstance?: string }[] = [];
  const recording = {
    execute: (a: { inputs: unknown; runInstance?: string }) => {
      seen.push(a);
      return Promise.resolve((a.inputs as { v: number }).v * 2);
    },
  };
  expect(await runAsync(doubler, undefined, { runId: "old", store, executor: recording })).toBe(4);
  expect(seen).toHaveLength(1);
  expect("runInstance" in seen[0]!).toBe(false);
  expect((await getRun("old", { store })).instance).toBeUndefined();
});

it("names a job by its run's mark, URI-encoded, and carries the mark to the worker", () => {
  expect(jobIdOf("r:1", "m[0]", 2)).toBe("r%3A1/m%5B0%5D/2");
  expect(jobIdOf("r:1", "m[0]", 2, "k/9")).toBe("r%3A1/m%5B0%5D/2/k%2F9");
  const activation = {
    runId: "r",
    runInstance: "abc",
    graphName: "g",
    fingerprint: "f",
    nodeId: "a",
    activationId: "a",
    attempt: 1,
    inputs: { x: 1 },
    deps: {},
  };
  expect(decodeActivation(encodeActivation(activation))).toEqual(activation);
  const { runInstance: _unmarked, ...old } = activation;
  expect(decodeActivation(encodeActivation(old))).toEqual(old);
});

it("keeps the mark in a LowdbStore across processes' store objects, and reads a mark that is not a string as damage", async () => {
  const dir = tempDir();
  const inline = { execute: (a: { inputs: unknown }) => Promise.resolve((a.inputs as { v: number }).v * 2) };
  expect(await runAsync(doubler, { v: 4 }, { runId: "kept", store: lowdb(dir), executor: inline })).toBe(8);
  const stored = await lowdb(dir).load("kept");
  expect(stored?.state.meta.instance).toMatch(/^[0-9a-f]{12}$/);
  expect((await getRun("kept", { store: lowdb(dir) })).instance).toBe(stored?.state.meta.instance);
  const meta = { ...stored!.state.meta, instance: 5 };
  expect(checkSnapshot({ version: 1, seq: 0, meta, nodes: [] })).toMatch(/instance/);
});
