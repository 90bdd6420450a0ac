/**
 * Audit of the worker side of the BullMQ adapter (`createWorker`): its
 * options, its life cycle (an early `close`), a cancel that races a job's
 * start, two runs of one job at once (a lock lost), and what a body sends
 * through its context. Each case failed before the fix it comes with.
 */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { graph, InvalidOptionError, NonRetryableError, run, runAsync, MemoryStore, NodeFailedError } from "../src/index.js";
import { bullmqExecutor, createWorker, jobIdOf, RedisStore, WorkerJobLeftError, type TaskloomWorker } from "../src/adapters/bullmq/index.js";
import { bullmqConnection } from "../src/adapters/bullmq/connection.js";
import { channelKeys, decode, encodeActivation, type ResultEnvelope } from "../src/adapters/bullmq/job-payload.js";
import { attemptJobId, describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";
import { unhandledDuring } from "./support/async.js";

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function clientNames(): Promise<string[]> {
  const redis = new Redis(REDIS_URL);
  try {
    const list = (await redis.client("LIST")) as string;
    return list.split("\n").map((line) => /\bname=(\S*)/.exec(line)?.[1] ?? "");
  } finally {
    redis.disconnect();
  }
}

const tiny = graph("tiny")
  .node("a", () => 1)
  .build();

describeRedis("createWorker (audit)", () => {
  it("refuses each invalid option with InvalidOptionError, before it opens any connection", async () => {
    const prefix = uniquePrefix("opts");
    // An ioredis prefix would move the adapter's keys away from the coordinators' (and breaks BullMQ's scripts).
    const prefixed = new Redis(REDIS_URL, { lazyConnect: true, keyPrefix: "app:" });
    closers.push(async () => {
      prefixed.disconnect();
      await dropPrefix(prefix);
    });
    const bad: [string, Record<string, unknown>][] = [
      ["concurrency", { concurrency: 0 }],
      ["concurrency", { concurrency: -2 }],
      ["concurrency", { concurrency: Number.NaN }],
      ["concurrency", { concurrency: 1.5 }],
      ["concurrency", { concurrency: "4" }],
      ["concurrency", { concurrency: Number.POSITIVE_INFINITY }],
      ["graphs", { graphs: undefined }],
      ["graphs", { graphs: "tiny" }],
      ["graphs", { graphs: [{ name: "not a graph" }] }],
      [
        "graphs",
        {
          graphs: [
            tiny,
            graph("tiny")
              .node("b", () => 2)
              .build(),
          ],
        },
      ],
      ["queue", { queue: 5 }],
      ["queue", { queue: "" }],
      ["queue", { queue: "etl:prod" }],
      // Names whose keys would mix with RedisStore's and the side channels' under the same prefix.
      ["queue", { queue: "run" }],
      ["queue", { queue: "lease" }],
      ["queue", { queue: "token" }],
      ["queue", { queue: "x" }],
      ["prefix", { prefix: 7 }],
      ["connection", { connection: null }],
      ["connection", { connection: 6379 }],
      ["connection", { connection: "127.0.0.1:6379" }],
      ["connection", { connection: "http://127.0.0.1:6379" }],
      ["connection", { connection: "redis://127.0.0.1:6379/cache" }],
      ["connection", { connection: { host: "127.0.0.1", keyPrefix: "app:" } }],
      ["connection", { connection: prefixed }],
      ["lockDurationMs", { lockDurationMs: -5 }],
      ["lockDurationMs", { lockDurationMs: "30s" }],
      ["lockDurationMs", { lockDurationMs: 0.5 }],
      ["stalledIntervalMs", { stalledIntervalMs: 0 }],
      ["maxStalledCount", { maxStalledCount: -1 }],
      ["maxStalledCount", { maxStalledCount: 1.5 }],
    ];
    for (const [option, patch] of bad) {
      let thrown: unknown;
      try {
        const worker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [tiny], ...patch });
        closers.push(() => worker.close());
      } catch (error) {
        thrown = error;
      }
      expect(thrown, `${option}: ${JSON.stringify(patch)}`).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option, JSON.stringify(patch)).toBe(option);
    }
    // Nothing was opened: no cancel subscriber of this prefix is connected (the name is set at connect).
    expect((await clientNames()).filter((n) => n.includes(prefix))).toEqual([]);
  });

  it("refuses, on the coordinator's side too (bullmqExecutor, RedisStore), a connection, queue or prefix a worker refuses", () => {
    const bad: [string, Record<string, unknown>][] = [
      ["connection", { connection: null }],
      ["connection", { connection: 6379 }],
      ["connection", { connection: "127.0.0.1:6379" }],
      ["connection", { connection: "http://127.0.0.1:6379" }],
      ["connection", { connection: { host: "127.0.0.1", keyPrefix: "app:" } }],
      ["prefix", { prefix: "" }],
      ["prefix", { prefix: 7 }],
    ];
    const make = {
      bullmqExecutor: (patch: Record<string, unknown>) => bullmqExecutor({ connection: REDIS_URL, ...patch }),
      RedisStore: (patch: Record<string, unknown>) => new RedisStore({ connection: REDIS_URL, ...patch }),
    };
    for (const [maker, build] of Object.entries(make)) {
      const queues = ["etl:prod", "run", "lease", "token", "x"].map((queue) => ["queue", { queue }] as [string, Record<string, unknown>]);
      const cases = maker === "bullmqExecutor" ? [...bad, ...queues] : bad;
      for (const [option, patch] of cases) {
        let thrown: unknown;
        try {
          build(patch);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${maker} ${JSON.stringify(patch)}`).toBeInstanceOf(InvalidOptionError);
        expect((thrown as InvalidOptionError).option, `${maker} ${JSON.stringify(patch)}`).toBe(option);
      }
    }
  });

  it("a reserved queue name says why and what to do; names that only start like one are accepted", () => {
    let thrown: unknown;
    try {
      bullmqExecutor({ connection: REDIS_URL, queue: "lease" });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as Error).message).toContain('cannot be "lease": under the same prefix, RedisStore');
    expect((thrown as Error).message).toContain('Name the queue otherwise (for example "lease-jobs")');
    for (const queue of ["runs", "leases", "run-jobs", "xs", "Run"]) {
      const executor = bullmqExecutor({ connection: REDIS_URL, queue });
      closers.push(() => executor.close());
    }
  });

  it("closes right after it was created without an unhandled rejection", async () => {
    const prefix = uniquePrefix("early-close");
    closers.push(() => dropPrefix(prefix));
    const seen = await unhandledDuring(async () => {
      const worker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [tiny] });
      await worker.close();
    });
    expect(seen).toEqual([]);
  });

  it("aborts a job whose cancel is published while the worker looks for a stored result (before the body starts)", async () => {
    const prefix = uniquePrefix("cancel-race");
    const keys = channelKeys(prefix, "q");
    let bodies = 0;
    const g = graph("race")
      .node("a", () => {
        bodies += 1;
        return "ran";
      })
      .build();
    const client = new Redis(REDIS_URL);
    const publisher = new Redis(REDIS_URL);
    // The worker's first look (its stored result, its cancel marker) is answered as Redis had it, and the
    // coordinator's cancel (marker and message) lands just after: between the look and the body's start.
    // (The worker's look is its script command `taskloomFirstLookOnce`, defined here first: KEYS results, cancelled, the job's hash.)
    Object.assign(client, {
      taskloomFirstLookOnce: async (_n: number, resultsKey: string, cancelledKey: string, jobKey: string, jobId: string, reported: string) => {
        const reply = [await publisher.hget(resultsKey, jobId), await publisher.get(cancelledKey), await publisher.hexists(jobKey, reported)];
        await publisher
          .multi()
          .set(cancelledKey, "the attempt timed out")
          .publish(keys.cancel, JSON.stringify({ jobId, reason: "the attempt timed out" }))
          .exec();
        await new Promise((r) => setTimeout(r, 300)); // time for the message to reach the worker's subscriber
        return reply;
      },
    });
    const worker = createWorker({ connection: client, prefix, queue: "q", graphs: [g] });
    const queue = new Queue("q", { connection: bullmqConnection(REDIS_URL), prefix });
    closers.push(async () => {
      await worker.close();
      await queue.close();
      client.disconnect();
      publisher.disconnect();
      await dropPrefix(prefix);
    });
    await worker.waitUntilReady();
    const ended = new Promise<string>((resolve) => {
      worker.worker.on("failed", (_job, error) => resolve(`failed: ${error.message}`));
      worker.worker.on("completed", () => resolve("completed"));
    });
    const activation = { runId: "r1", graphName: "race", fingerprint: g.fingerprint, nodeId: "a", activationId: "a", attempt: 1, inputs: undefined, deps: {} };
    await queue.add("race", encodeActivation(activation), { jobId: jobIdOf("r1", "a", 1), attempts: 1, removeOnComplete: true, removeOnFail: true });
    expect(await ended).toMatch(/^failed: cancelled by the coordinator/);
    expect(bodies).toBe(0);
  });

  it("keeps the result of one run of a job whose lock was lost while another worker ran it: the one the coordinator took", async () => {
    const prefix = uniquePrefix("lock-lost");
    const gates: (() => void)[] = [];
    const gate = (): Promise<void> => new Promise((resolve) => gates.push(resolve));
    const started: string[] = [];
    let firstStarted!: () => void;
    const firstRunning = new Promise<void>((resolve) => (firstStarted = resolve));
    let depOfB: unknown;
    let bStarted!: () => void;
    const bRunning = new Promise<void>((resolve) => (bStarted = resolve));
    let releaseB!: () => void;
    const bGate = new Promise<void>((resolve) => (releaseB = resolve));
    const g = graph("twice")
      .node("a", async () => {
        started.push("a");
        if (started.length > 1) return "second";
        firstStarted();
        await gate();
        return "first";
      })
      .node(
        "b",
        async ({ deps }) => {
          depOfB = deps.a;
          bStarted();
          await bGate;
          return deps.a;
        },
        { after: ["a"] },
      )
      .output((o) => o.b)
      .build();
    // The lock is renewed every 30 s (half of lockDurationMs): not within this test, as when the worker's event loop is
    // blocked, so the first run is not told that it lost the lock (that case: the next test).
    const worker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [g], concurrency: 3, lockDurationMs: 60_000, stalledIntervalMs: 200 });
    const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
    const redis = new Redis(REDIS_URL);
    closers.push(async () => {
      releaseB();
      for (const open of gates) open();
      await worker.close();
      await executor.close();
      redis.disconnect();
      await dropPrefix(prefix);
    });
    await worker.waitUntilReady();
    const store = new MemoryStore();
    const handle = run(g, undefined, { runId: "lost-1", store, executor });
    await firstRunning;
    const jobId = await attemptJobId(store, "lost-1", "a", 1);
    // The worker's lock on the job is gone (as when its event loop was blocked past lockDurationMs): the stalled
    // check hands the job out again, and a second run of it finishes while the first is still running.
    await redis.del(`${prefix}:q:${jobId}:lock`);
    await bRunning;
    expect(depOfB).toBe("second");
    // The first run finishes now, and reports too.
    const reported = new Promise<void>((resolve) => {
      const onEnd = (job: { id?: string } | undefined): void => {
        if (job?.id === jobId) resolve();
      };
      worker.worker.on("failed", onEnd);
      worker.worker.on("completed", onEnd);
      // BullMQ cannot complete it (the other run completed and removed the job): its processor has returned.
      worker.worker.on("error", (error) => {
        if (error.message.includes(jobId) && error.message.includes("moveToFinished")) resolve();
      });
    });
    gates.shift()?.();
    await reported;
    const keys = channelKeys(prefix, "q");
    const stored = await redis.hget(keys.results("lost-1"), jobId);
    expect(stored && decode<ResultEnvelope>(stored)).toEqual({ ok: true, value: "second" });
    releaseB();
    expect(await handle.result()).toBe("second");
  });

  it("fails a body whose ctx.emit data cannot travel to the coordinator with a NonRetryableError, rather than changing or dropping it", async () => {
    class Reading {
      celsius = 21;
    }
    const g = graph("emits")
      .node("a", ({ emit }) => {
        emit("plain", { at: new Date(0), n: 1n });
        emit("reading", { value: new Reading() });
        return "done";
      })
      .build();
    const { executor, worker } = await pair("emit", [g]);
    const handle = run(g, undefined, { store: new MemoryStore(), executor, retry: { maxAttempts: 2, backoff: { initialMs: 1, jitter: false } } });
    const events: [string, unknown][] = [];
    handle.events.on("node:event", (e) => events.push([e.name, e.data]));
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeFailedError);
    const cause = (err as NodeFailedError).cause;
    expect(cause).toBeInstanceOf(NonRetryableError);
    expect((cause as Error).message).toContain('ctx.emit("reading")');
    expect((cause as Error).message).toContain("an instance of Reading at .value");
    expect(events).toContainEqual(["plain", { at: new Date(0), n: 1n }]);
    expect(events.map(([name]) => name)).not.toContain("reading");
    void worker;
  });

  it("says what in a body's output cannot travel back to the coordinator", async () => {
    class Reading {
      celsius = 21;
    }
    const g = graph("returns")
      .node("a", () => ({ readings: [new Reading()] }))
      .build();
    const { executor } = await pair("ret", [g]);
    const err = await runAsync(g, undefined, { store: new MemoryStore(), executor }).catch((e: unknown) => e);
    const cause = (err as NodeFailedError).cause;
    expect(cause).toBeInstanceOf(NonRetryableError);
    expect((cause as Error).message).toContain("an instance of Reading at .readings[0]");
    // Too long to store (above 64 Mi characters): refused the same way, not sent.
    const huge = graph("huge")
      .node("a", () => ({ text: "x".repeat(64 * 1024 * 1024 + 1) }))
      .build();
    const { executor: hugeExecutor } = await pair("huge", [huge]);
    const hugeErr = await runAsync(huge, undefined, { store: new MemoryStore(), executor: hugeExecutor }).catch((e: unknown) => e);
    expect((hugeErr as NodeFailedError).cause).toBeInstanceOf(NonRetryableError);
    expect(((hugeErr as NodeFailedError).cause as Error).message).toContain("cannot be sent back to the coordinator: more than 64 MiB once serialized");
  });

  it("survives a failed look at the cancel markers after its subscriber reconnected, without an unhandled rejection", async () => {
    const prefix = uniquePrefix("resub");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let running!: () => void;
    const started = new Promise<void>((resolve) => (running = resolve));
    const g = graph("held")
      .node("a", async () => {
        running();
        await gate;
        return 1;
      })
      .build();
    const client = new Redis(REDIS_URL);
    const admin = new Redis(REDIS_URL);
    const worker = createWorker({ connection: client, prefix, queue: "q", graphs: [g] });
    const queue = new Queue("q", { connection: bullmqConnection(REDIS_URL), prefix });
    closers.push(async () => {
      release();
      await worker.close();
      await queue.close();
      client.disconnect();
      admin.disconnect();
      await dropPrefix(prefix);
    });
    await worker.waitUntilReady();
    const activation = { runId: "r1", graphName: "held", fingerprint: g.fingerprint, nodeId: "a", activationId: "a", attempt: 1, inputs: undefined, deps: {} };
    await queue.add("held", encodeActivation(activation), { jobId: jobIdOf("r1", "a", 1), attempts: 1, removeOnComplete: true, removeOnFail: true });
    await started;
    let looked!: () => void;
    const markersRead = new Promise<void>((resolve) => (looked = resolve));
    // The look at the markers fails (Redis answers an error, or the client gave up on its retries).
    Object.assign(client, {
      mget: () => {
        looked();
        return Promise.reject(new Error("MGET failed"));
      },
    });
    const seen = await unhandledDuring(async () => {
      const list = (await admin.client("LIST")) as string;
      const line = list.split("\n").find((l) => l.includes(`name=taskloom:cancels:${prefix}:q `));
      const id = /\bid=(\d+)/.exec(line ?? "")?.[1];
      expect(id).toBeDefined();
      await admin.client("KILL", "ID", id!);
      await markersRead;
    });
    expect(seen).toEqual([]);
  });

  it("aborts the signal of a body whose job's lock this worker lost (BullMQ hands the job to another worker)", async () => {
    const prefix = uniquePrefix("lock-abort");
    let seen!: (signal: AbortSignal) => void;
    const signalOf = new Promise<AbortSignal>((resolve) => (seen = resolve));
    const g = graph("held")
      .node("a", ({ signal }) => {
        seen(signal);
        return new Promise((resolve) => signal.addEventListener("abort", () => resolve("aborted")));
      })
      .build();
    const worker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs: [g], lockDurationMs: 1_000, stalledIntervalMs: 60_000 });
    const queue = new Queue("q", { connection: bullmqConnection(REDIS_URL), prefix });
    const redis = new Redis(REDIS_URL);
    closers.push(async () => {
      await worker.close(true);
      await queue.close();
      redis.disconnect();
      await dropPrefix(prefix);
    });
    await worker.waitUntilReady();
    const jobId = jobIdOf("r1", "a", 1);
    const activation = { runId: "r1", graphName: "held", fingerprint: g.fingerprint, nodeId: "a", activationId: "a", attempt: 1, inputs: undefined, deps: {} };
    await queue.add("held", encodeActivation(activation), { jobId, attempts: 1, removeOnComplete: true, removeOnFail: true });
    const signal = await signalOf;
    const renewalFailed = new Promise<string[]>((resolve) => worker.worker.on("lockRenewalFailed", resolve));
    await redis.del(`${prefix}:q:${jobId}:lock`); // as when the event loop was blocked past lockDurationMs and another worker took the job
    expect(await renewalFailed).toEqual([jobId]);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(WorkerJobLeftError);
    expect(String((signal.reason as Error).message)).toMatch(/lost the job's lock/);
  });

  it("carries undefined, Date, Map, Set, BigInt, NaN and -0 both ways unchanged (inputs, deps, map items, outputs)", async () => {
    const value = {
      nothing: undefined,
      at: new Date(Date.UTC(2026, 0, 2)),
      byKey: new Map<unknown, unknown>([
        [1, new Set(["x"])],
        ["k", { deep: [undefined, 10n ** 30n] }],
      ]),
      nan: Number.NaN,
      negZero: -0,
      sparse: [1, undefined, 3],
    };
    const g = graph("values")
      .input<typeof value>()
      .node("echo", ({ inputs }) => inputs)
      .node("list", ({ deps }) => [deps.echo, undefined, 5n], { after: ["echo"] })
      .map("items", "list", ({ item }) => item)
      .node("none", () => undefined)
      .output((o) => ({ echo: o.echo, items: o.items, none: o.none }))
      .build();
    const { executor } = await pair("values", [g]);
    const out = await runAsync(g, value, { store: new MemoryStore(), executor });
    expect(out).toEqual({ echo: value, items: [value, undefined, 5n], none: undefined });
    expect(Object.is(out.echo.negZero, -0)).toBe(true);
    expect("nothing" in (out.echo as object)).toBe(true);
  });
});

/** A worker and an executor on a queue of their own. */
async function pair(
  label: string,
  graphs: Parameters<typeof createWorker>[0]["graphs"],
): Promise<{ worker: TaskloomWorker; executor: ReturnType<typeof bullmqExecutor> }> {
  const prefix = uniquePrefix(label);
  const worker = createWorker({ connection: REDIS_URL, prefix, queue: "q", graphs, concurrency: 4 });
  const executor = bullmqExecutor({ connection: REDIS_URL, prefix, queue: "q" });
  closers.push(async () => {
    await worker.close();
    await executor.close();
    await dropPrefix(prefix);
  });
  await worker.waitUntilReady();
  return { worker, executor };
}
