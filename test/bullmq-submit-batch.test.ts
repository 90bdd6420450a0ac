/**
 * How `bullmqExecutor` submits jobs: the attempts the scheduler starts
 * together go to Redis together (one script call that looks for stored
 * results and clears stale cancel markers, then one `addBulk`), never one
 * round trip per attempt in turn; a few attempts (at most 16) go by one
 * `add` each, all sent at once (an `addBulk` of a few costs the
 * coordinator an ioredis pipeline for nothing), and an add that fails
 * fails its own attempt only; and within a batch, an attempt whose result
 * is already stored (a coordinator taking over a run) is settled from it
 * without a job while the others get theirs.
 */
import type { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { graph, MemoryStore, runAsync, type TaskGraph } from "../src/index.js";
import { bullmqExecutor, createWorker, type TaskloomWorker } from "../src/adapters/bullmq/index.js";
import { channelKeys, decodeActivation, encode, jobIdOf, okEnvelope } from "../src/adapters/bullmq/job-payload.js";
import { storeLeftRun } from "./support/stored-run.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Counts the executor queue's `add` and `addBulk` calls (and the jobs the latter carried). */
function countAdds(queue: Queue): { adds: number; bulks: number[] } {
  const seen = { adds: 0, bulks: [] as number[] };
  const add = queue.add.bind(queue);
  const addBulk = queue.addBulk.bind(queue);
  queue.add = (...args: Parameters<Queue["add"]>) => {
    seen.adds += 1;
    return add(...args);
  };
  queue.addBulk = (jobs: Parameters<Queue["addBulk"]>[0]) => {
    seen.bulks.push(jobs.length);
    return addBulk(jobs);
  };
  return seen;
}

/** The builder as the loop below uses it, with node ids as plain strings (the typed builder cannot follow dynamic ids). */
interface LooseBuilder {
  node(id: string, fn: (ctx: { deps: Record<string, number> }) => Promise<number>, options?: { after: readonly string[] }): LooseBuilder;
  output(fn: (o: { join: number }) => number): { build(): TaskGraph<undefined, number> };
}

/** 1 root → n nodes (`body(i)`) → a join that sums their values. */
function fanOut(name: string, n: number, body: (i: number) => () => Promise<number>): TaskGraph<undefined, number> {
  let b = graph(name).node("root", async () => 0) as unknown as LooseBuilder;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    b = b.node(`n${i}`, body(i), { after: ["root"] });
    ids.push(`n${i}`);
  }
  return b
    .node("join", async ({ deps }) => Object.values(deps).reduce((s, v) => s + v, 0), { after: ids })
    .output((o) => o.join)
    .build();
}

function cluster(label: string, graphs: Parameters<typeof createWorker>[0]["graphs"]) {
  const prefix = uniquePrefix(label);
  const worker: TaskloomWorker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs, concurrency: 16 });
  const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
  closers.push(() => dropPrefix(prefix));
  closers.push(() => worker.close());
  closers.push(() => executor.close());
  return { prefix, worker, executor };
}

describeRedis("bullmqExecutor job submission", () => {
  it("adds the jobs of many attempts started together in bulk, never one add per attempt", async () => {
    const n = 40;
    const g = fanOut("batch-fan", n, (i) => async () => i);
    const { worker, executor } = cluster("batch", [g]);
    await worker.waitUntilReady();
    const seen = countAdds(executor.queue);
    const out = await runAsync(g, undefined, { runId: "batch-1", store: new MemoryStore(), executor, maxConcurrency: n });
    expect(out).toBe((n * (n - 1)) / 2);
    expect(seen.adds + seen.bulks.reduce((s, k) => s + k, 0)).toBe(n + 2); // every attempt got exactly one job
    expect(seen.adds + seen.bulks.length).toBeLessThan(n + 2);
    expect(seen.bulks.every((k) => k > 1)).toBe(true); // a batch of one is an add
    expect(Math.max(...seen.bulks)).toBeGreaterThan(1); // the middle nodes, ready together, went in one batch or a few
  }, 60_000);

  it("settles an attempt of a batch from its stored result without a job, and adds the others' jobs", async () => {
    const n = 12;
    const ran: number[] = [];
    const g = fanOut("batch-stored", n, (i) => async () => {
      ran.push(i);
      if (i === 5) throw new Error("n5 ran again although its result was stored");
      return i;
    });
    const { prefix, worker, executor } = cluster("stored", [g]);
    await worker.waitUntilReady();
    // As a coordinator that died after n5's job finished would leave it: the run stored (pending, with its mark),
    // and n5's result in the run's results hash.
    const runId = "stored-1";
    const store = new MemoryStore();
    const mark = "seeded-mark";
    await storeLeftRun(store, g, runId, { instance: mark });
    const keys = channelKeys(prefix, "q");
    const client = new Redis(REDIS_URL);
    try {
      await client.hset(keys.results(runId), jobIdOf(runId, "n5", 1, mark), encode(okEnvelope(500, 'node "n5"')));
    } finally {
      client.disconnect();
    }
    const seen = countAdds(executor.queue);
    const out = await runAsync(g, undefined, { runId, store, executor, maxConcurrency: n });
    expect(out).toBe((n * (n - 1)) / 2 - 5 + 500); // n5's value is the stored 500
    expect(ran).not.toContain(5);
    expect([...ran].sort((a, b) => a - b)).toEqual([...Array(n).keys()].filter((i) => i !== 5));
    expect(seen.adds + seen.bulks.reduce((s, k) => s + k, 0)).toBe(n + 1); // no job for n5
  }, 60_000);

  it("adds the job of an attempt started alone with add, not an addBulk of one", async () => {
    const g = graph("alone-chain")
      .node("a", async () => 1)
      .node("b", async ({ deps }) => deps.a + 1, { after: ["a"] })
      .node("c", async ({ deps }) => deps.b + 1, { after: ["b"] })
      .output((o) => o.c)
      .build();
    const { worker, executor } = cluster("alone", [g]);
    await worker.waitUntilReady();
    const seen = countAdds(executor.queue);
    const out = await runAsync(g, undefined, { runId: "alone-1", store: new MemoryStore(), executor, maxConcurrency: 8 });
    expect(out).toBe(3);
    expect(seen).toEqual({ adds: 3, bulks: [] });
  }, 60_000);

  it("adds the jobs of a few attempts started together with one add each, sent at once", async () => {
    const n = 6;
    const g = fanOut("few-fan", n, (i) => async () => i);
    const { worker, executor } = cluster("few", [g]);
    await worker.waitUntilReady();
    const seen = countAdds(executor.queue);
    const inFlight = { now: 0, max: 0 };
    const counted = executor.queue.add.bind(executor.queue);
    executor.queue.add = (...args: Parameters<Queue["add"]>) => {
      inFlight.now += 1;
      inFlight.max = Math.max(inFlight.max, inFlight.now);
      return counted(...args).finally(() => (inFlight.now -= 1));
    };
    const out = await runAsync(g, undefined, { runId: "few-1", store: new MemoryStore(), executor, maxConcurrency: n });
    expect(out).toBe((n * (n - 1)) / 2);
    expect(seen).toEqual({ adds: n + 2, bulks: [] });
    expect(inFlight.max).toBe(n); // the middle nodes' adds were all out together, not one after the other
  }, 60_000);

  it("fails only the attempt whose add failed, and its retry runs; the other attempts of the batch run once", async () => {
    const n = 4;
    const ran: string[] = [];
    const g = fanOut("few-fail", n, (i) => async () => {
      ran.push(`n${i}`);
      return i;
    });
    const { worker, executor } = cluster("few-fail", [g]);
    await worker.waitUntilReady();
    const add = executor.queue.add.bind(executor.queue);
    let refused = 0;
    executor.queue.add = (...args: Parameters<Queue["add"]>) => {
      const activation = decodeActivation(args[1]);
      if (activation.runId === "few-fail-1" && activation.activationId === "n2" && activation.attempt === 1) {
        refused += 1;
        return Promise.reject(new Error("injected: the add of n2's first attempt failed"));
      }
      return add(...args);
    };
    const out = await runAsync(g, undefined, {
      runId: "few-fail-1",
      store: new MemoryStore(),
      executor,
      maxConcurrency: n,
      retry: { maxAttempts: 2, backoff: { initialMs: 1, jitter: false } },
    });
    expect(out).toBe((n * (n - 1)) / 2);
    expect(refused).toBe(1);
    expect([...ran].sort()).toEqual(["n0", "n1", "n2", "n3"]); // n2 ran once (its second attempt), the others once
  }, 60_000);
});
