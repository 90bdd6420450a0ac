/**
 * Who can deliver an event to a waiting run, and what the node gets
 * (issue 20 items 2 and 3, issue 14 item 10):
 * - a live run is recognised by run id and store location: a webhook with
 *   its own `LowdbStore` on the driver's folder, or a worker thread,
 *   delivers straight to the node;
 * - the node gets a copy of the payload (the store's round trip), on the
 *   live path as on the stored one;
 * - resolvers contending for a stored run's short write lock wait for each
 *   other instead of failing with `RUN_LOCKED`;
 * - a delivery that reaches a resumed run before its node waits again is
 *   held until it does.
 */
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import {
  GraphHasPendingWaits,
  LowdbStore,
  MemoryStore,
  WaitAlreadyResolvedError,
  getRun,
  graph,
  resolveWait,
  run,
  runAsync,
  type RunStore,
} from "../src/index.js";
import { RedisStore } from "../src/adapters/bullmq/index.js";
import { deferred, nextEvent, rejection, until } from "./support/async.js";
import { describeRedis, REDIS_URL, uniquePrefix } from "./support/redis.js";
import { tempStores } from "./support/temp-stores.js";
import { needsDist, resolveInThread } from "./support/resolve-in-thread.js";
import { replayingWait } from "./support/replaying-wait.js";

const { tempDir, lowdb } = tempStores("taskloom-waits-delivery-");

needsDist();

/** A graph where "review" waits for "approval" while "hold" keeps the run live until `gate` opens. */
function liveGraph(gate: Promise<void>) {
  return graph("live-delivery")
    .node("hold", async () => {
      await gate;
      return "held";
    })
    .node("review", ({ waitFor }) => waitFor<{ list: number[]; nested: { n: number } }>("approval"))
    .build();
}

describe("resolveWait while this process drives the run", () => {
  it("with a new LowdbStore on the driver's folder, delivers straight to the waiting node (no RunLockedError)", async () => {
    const dir = tempDir();
    const gate = deferred();
    const handle = run(liveGraph(gate.promise), undefined, { store: lowdb(dir), runId: "same-folder" });
    await nextEvent(handle, "node:wait");
    const reviewed = nextEvent(handle, "node:success", (e) => e.nodeId === "review");
    await resolveWait("same-folder", "approval", { list: [1], nested: { n: 1 } }, { store: new LowdbStore({ dir }) });
    await reviewed; // live: the node went on while "hold" still runs
    gate.resolve();
    await expect(handle.result()).resolves.toEqual({ hold: "held", review: { list: [1], nested: { n: 1 } } });
    expect((await getRun("same-folder", { store: lowdb(dir) })).starts).toBe(1);
  });

  it("from a worker thread, hands the event to the driving thread, which delivers it; refusals keep their class and code", async () => {
    const dir = tempDir();
    const gate = deferred();
    const handle = run(liveGraph(gate.promise), undefined, { store: lowdb(dir), runId: "from-worker" });
    await nextEvent(handle, "node:wait");
    const unknown = await resolveInThread({ dir, runId: "from-worker", key: "nope", payload: 1 });
    expect(unknown).toMatchObject({ ok: false, name: "WaitNotFoundError", code: "WAIT_NOT_FOUND", openKeys: ["approval"] });
    const reviewed = nextEvent(handle, "node:success", (e) => e.nodeId === "review");
    expect(await resolveInThread({ dir, runId: "from-worker", key: "approval", payload: { list: [2], nested: { n: 2 } } })).toEqual({ ok: true });
    await reviewed;
    const again = await resolveInThread({ dir, runId: "from-worker", key: "approval", payload: { list: [3], nested: { n: 3 } } });
    expect(again).toMatchObject({ ok: false, name: "WaitAlreadyResolvedError", code: "WAIT_ALREADY_RESOLVED" });
    gate.resolve();
    await expect(handle.result()).resolves.toEqual({ hold: "held", review: { list: [2], nested: { n: 2 } } });
  });

  it("a delivery to a resumed run before its node waits again is held until it does (no WaitNotFoundError)", async () => {
    const store = new MemoryStore();
    const { graph: g, resume, release } = replayingWait("held-delivery");
    expect(await rejection(runAsync(g, undefined, { store, runId: "held" }))).toBeInstanceOf(GraphHasPendingWaits);
    resume();
    const handle = run(g, undefined, { store, runId: "held" });
    await nextEvent(handle, "node:start");
    const delivered = resolveWait("held", "approval", "yes", { store });
    release();
    await delivered;
    await expect(handle.result()).resolves.toEqual({ review: "yes" });
  });
});

describe("the node gets its own copy of the payload", () => {
  it("live: mutating the caller's object afterwards changes neither the node's value, the output nor the stored payload", async () => {
    const store = new MemoryStore();
    const gate = deferred();
    const handle = run(liveGraph(gate.promise), undefined, { store, runId: "copy-live" });
    await nextEvent(handle, "node:wait");
    const payload = { list: [1], nested: { n: 1 } };
    await resolveWait("copy-live", "approval", payload, { store });
    payload.list.push(2);
    payload.nested.n = 99;
    gate.resolve();
    const out = await handle.result();
    expect(out.review).toEqual({ list: [1], nested: { n: 1 } });
    expect(out.review).not.toBe(payload);
    const review = (await getRun("copy-live", { store })).nodes.find((n) => n.id === "review");
    expect(review?.output).toEqual({ list: [1], nested: { n: 1 } });
    expect(review?.waits?.approval?.resolved?.payload).toEqual({ list: [1], nested: { n: 1 } });
  });

  it("stored (MemoryStore): the same, and both paths give the node an equal value", async () => {
    const store = new MemoryStore();
    const g = graph("copy-stored")
      .node("review", ({ waitFor }) => waitFor<{ at: Date; tags: Set<string> }>("approval"))
      .build();
    expect(await rejection(runAsync(g, undefined, { store, runId: "copy-stored" }))).toBeInstanceOf(GraphHasPendingWaits);
    const payload = { at: new Date(5), tags: new Set(["a"]) };
    await resolveWait("copy-stored", "approval", payload, { store });
    payload.tags.add("b");
    payload.at.setTime(6);
    const out = await runAsync(g, undefined, { store, runId: "copy-stored" });
    expect(out.review).toEqual({ at: new Date(5), tags: new Set(["a"]) });
    expect(out.review.tags).not.toBe(payload.tags);
  });
});

describe("concurrent resolvers of one waiting run", () => {
  const KEYS = Array.from({ length: 20 }, (_, i) => `k${i}`);
  function twentyWaits() {
    let b = graph("twenty-waits").node("k0", ({ waitFor }) => waitFor<number>("k0"));
    for (const key of KEYS.slice(1)) b = b.node(key, ({ waitFor }) => waitFor<number>(key));
    return b.build();
  }

  async function allAtOnce(store: () => RunStore, runId: string): Promise<void> {
    const g = twentyWaits();
    expect(await rejection(runAsync(g, undefined, { store: store(), runId }))).toBeInstanceOf(GraphHasPendingWaits);
    const results = await Promise.allSettled(KEYS.map((key, i) => resolveWait(runId, key, i, { store: store() })));
    expect(results.filter((r) => r.status === "rejected").map((r) => String(r.reason))).toEqual([]);
    const out = (await runAsync(g, undefined, { store: store(), runId })) as Record<string, number>;
    expect(KEYS.map((k) => out[k])).toEqual(KEYS.map((_, i) => i));
  }

  it("20 resolveWait calls on different keys at once all succeed on LowdbStore (a store object each, as webhooks do)", async () => {
    const dir = tempDir();
    await allAtOnce(() => lowdb(dir), "twenty-lowdb");
  });

  it("20 resolveWait calls on different keys at once all succeed on MemoryStore", async () => {
    const store = new MemoryStore();
    await allAtOnce(() => store, "twenty-memory");
  });

  it("one key resolved twice at once: stored, both are accepted and one payload is delivered; live, the second is WaitAlreadyResolvedError", async () => {
    const store = new MemoryStore();
    const g = graph("twice")
      .node("review", ({ waitFor }) => waitFor<string>("approval"))
      .build();
    expect(await rejection(runAsync(g, undefined, { store, runId: "twice" }))).toBeInstanceOf(GraphHasPendingWaits);
    await Promise.all([resolveWait("twice", "approval", "a", { store }), resolveWait("twice", "approval", "b", { store })]);
    expect(["a", "b"]).toContain((await runAsync(g, undefined, { store, runId: "twice" })).review);

    const gate = deferred();
    const handle = run(liveGraph(gate.promise), undefined, { store, runId: "twice-live" });
    await nextEvent(handle, "node:wait");
    const payload = { list: [], nested: { n: 0 } };
    const both = await Promise.allSettled([
      resolveWait("twice-live", "approval", payload, { store }),
      resolveWait("twice-live", "approval", payload, { store }),
    ]);
    expect(both.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((both.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(WaitAlreadyResolvedError);
    gate.resolve();
    await handle.result();
  });
});

describeRedis("resolveWait with a new RedisStore on the driver's server and prefix", () => {
  it("delivers straight to the waiting node; a store on another prefix is another location", async () => {
    const prefix = uniquePrefix("waits-location");
    const driver = new RedisStore({ connection: REDIS_URL, prefix });
    const webhook = new RedisStore({ connection: REDIS_URL, prefix });
    const elsewhere = new RedisStore({ connection: REDIS_URL, prefix: `${prefix}-other` });
    try {
      expect(webhook.location).toBe(driver.location);
      expect(elsewhere.location).not.toBe(driver.location);
      expect(driver.location).not.toContain("@");
      const gate = deferred();
      const handle = run(liveGraph(gate.promise), undefined, { store: driver, runId: "redis-live" });
      await nextEvent(handle, "node:wait");
      const reviewed = nextEvent(handle, "node:success", (e) => e.nodeId === "review");
      await resolveWait("redis-live", "approval", { list: [4], nested: { n: 4 } }, { store: webhook });
      await reviewed;
      gate.resolve();
      await expect(handle.result()).resolves.toEqual({ hold: "held", review: { list: [4], nested: { n: 4 } } });
    } finally {
      await Promise.all([driver.close(), webhook.close(), elsewhere.close()]);
    }
  });
});

describe("a driver that starts while a resolver writes", () => {
  it("waits for the resolver's short lease instead of failing with RUN_LOCKED", async () => {
    class CountingStore extends MemoryStore {
      refused = 0;
      override async acquireLease(...args: Parameters<MemoryStore["acquireLease"]>) {
        try {
          return await super.acquireLease(...args);
        } catch (error) {
          this.refused += 1;
          throw error;
        }
      }
    }
    const store = new CountingStore();
    const g = graph("after-resolver")
      .node("review", ({ waitFor }) => waitFor<string>("approval"))
      .build();
    expect(await rejection(runAsync(g, undefined, { store, runId: "after-resolver" }))).toBeInstanceOf(GraphHasPendingWaits);
    // What resolveWait holds while it writes an event (owner "deliver:…", this live process).
    const held = await store.acquireLease("after-resolver", { owner: "deliver:test", pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() });
    const resumed = runAsync(g, undefined, { store, runId: "after-resolver" });
    await until(() => store.refused > 0, "the driver to meet the resolver's lease");
    const refusedBefore = store.refused;
    const resolved = resolveWait("after-resolver", "approval", "late", { store }); // another resolver queues behind it too
    await until(() => store.refused > refusedBefore, "the second resolver to meet the lease");
    await store.releaseLease(held);
    await resolved;
    // Which of the two waiters takes the released lease first is up to timing: if the driver does, its node may
    // reach waitFor and the run stop as waiting before the resolver's next try, which then writes into the stored
    // run. Either way the driver was not refused (no RUN_LOCKED) and the event reaches the node.
    const outcome = await resumed.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    if ("error" in outcome) {
      expect(outcome.error).toBeInstanceOf(GraphHasPendingWaits);
      await expect(runAsync(g, undefined, { store, runId: "after-resolver" })).resolves.toEqual({ review: "late" });
    } else {
      expect(outcome.value).toEqual({ review: "late" });
    }
  });
});
