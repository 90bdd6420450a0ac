/**
 * A cancel the worker's subscriber was not there to hear: the coordinator
 * publishes each cancel (Redis pub/sub, which keeps nothing) and leaves a
 * marker (`cancelled`, kept a day). A worker whose subscriber connection
 * drops while a cancel is published must still abort that body once it is
 * connected again, from the marker, not let it run to its end.
 */
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { graph, MemoryStore, NodeFailedError, runAsync } from "../src/index.js";
import { bullmqExecutor, createWorker } from "../src/adapters/bullmq/index.js";
import { channelKeys } from "../src/adapters/bullmq/job-payload.js";
import { attemptJobId, describeRedis, dropPrefix, eventually, REDIS_URL, uniquePrefix } from "./support/redis.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

describeRedis("a worker whose cancel subscriber reconnects", () => {
  it("aborts a running body whose cancel was published while the subscriber was down", async () => {
    const prefix = uniquePrefix("lost-cancel");
    closers.push(() => dropPrefix(prefix));
    let started = false;
    let abortedAt: number | undefined;
    const g = graph("lost-cancel")
      .node(
        "a",
        async ({ signal }) => {
          started = true;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 20_000);
            signal.addEventListener("abort", () => {
              abortedAt = Date.now();
              clearTimeout(timer);
              resolve();
            });
          });
          return "ran to its end";
        },
        { timeoutMs: 400 },
      )
      .build();
    const worker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [g] });
    closers.push(() => worker.close(true));
    const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
    closers.push(() => executor.close());
    await worker.waitUntilReady();
    const admin = new Redis(REDIS_URL);
    closers.push(async () => void admin.disconnect());
    const name = `taskloom:cancels:${prefix}:q`;
    /** Closes the worker's subscriber connection (each one it makes again), while `on()` holds. */
    let killing = true;
    let kills = 0;
    const killer = (async () => {
      while (killing) {
        const list = (await admin.client("LIST")) as string;
        for (const line of list.split("\n")) {
          if (line.includes(` name=${name} `)) {
            kills++;
            await admin.client("KILL", "ID", /\bid=(\d+)/.exec(line)![1]!);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    const store = new MemoryStore();
    const outcome = runAsync(g, undefined, { runId: "cancel-1", store, executor, retry: { maxAttempts: 1 } }).catch((e: unknown) => e);
    await eventually("the body running", async () => (started ? true : undefined));
    // The attempt times out: the coordinator sets the marker and publishes, while the subscriber is kept away.
    const marker = channelKeys(prefix, "q").cancelled(await attemptJobId(store, "cancel-1", "a", 1));
    await eventually("the cancel's marker", async () => ((await admin.exists(marker)) === 1 ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 100));
    killing = false;
    await killer;
    const cancelledAt = Date.now();
    expect(kills).toBeGreaterThan(0); // the subscriber was kept away (found by its name)

    expect(await outcome).toBeInstanceOf(NodeFailedError); // the attempt timed out in the coordinator
    await eventually("the body aborted", async () => (abortedAt !== undefined ? true : undefined), 10_000);
    expect(abortedAt! - cancelledAt).toBeLessThan(10_000);
  }, 40_000);
});
