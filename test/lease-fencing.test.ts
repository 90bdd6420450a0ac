/**
 * Fencing through the public API: two drivers of one run sharing ONE store
 * object (one `RedisStore` or `LowdbStore` per process, as the README
 * shows). The second takes the run over while the first's node still
 * runs; when that node ends, the first driver's writes are refused, its
 * `runAsync` rejects with `LeaseLostError` itself, and the stored run keeps
 * the second driver's result.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { getRun, graph, LeaseLostError, LowdbStore, MemoryStore, runAsync, type RunStore } from "../src/index.js";
import { RedisStore } from "../src/adapters/bullmq/index.js";
import { deferred } from "./support/async.js";
import { dropPrefix, REDIS_URL, redisUp, uniquePrefix } from "./support/redis.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-fencing-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Fixture {
  readonly store: RunStore;
  readonly cleanup: () => Promise<void>;
}

const fixtures: [string, () => Fixture][] = [
  ["MemoryStore", () => ({ store: new MemoryStore(), cleanup: async () => undefined })],
  [
    "LowdbStore",
    () => {
      const store = new LowdbStore({ dir: mkdtempSync(join(root, "lowdb-")) });
      return { store, cleanup: () => store.close() };
    },
  ],
];
if (redisUp || process.env.CI) {
  fixtures.push([
    "RedisStore",
    () => {
      const prefix = uniquePrefix("fencing");
      const store = new RedisStore({ connection: REDIS_URL, prefix });
      return { store, cleanup: async () => (await store.close(), await dropPrefix(prefix)) };
    },
  ]);
} else {
  console.warn(`NOTICE: skipping the RedisStore fencing case: no Redis at ${REDIS_URL}`);
}

describe.each(fixtures)("two drivers of one run on ONE %s object", (_name, make) => {
  it("the driver that was taken over rejects with LeaseLostError, and the run keeps the new driver's outputs", async () => {
    const { store, cleanup } = make();
    try {
      const runId = "fenced";
      const started = deferred();
      const gate = deferred();
      const calls: string[] = [];
      const g = graph("fenced")
        .node("slow", async () => {
          const who = calls.length === 0 ? "old" : "new";
          calls.push(who);
          if (who === "old") {
            started.resolve();
            await gate.promise;
          }
          return who;
        })
        .node("after", ({ deps }) => `${deps.slow}!`, { after: ["slow"] })
        .build();

      const first = runAsync(g, undefined, { runId, store });
      first.catch(() => undefined);
      await started.promise;
      // The orchestrator says the first driver is dead (it is not): the second takes the run over.
      await expect(runAsync(g, undefined, { runId, store, takeover: true })).resolves.toEqual({ slow: "new", after: "new!" });

      gate.resolve();
      const error = await first.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LeaseLostError);
      expect(error).toMatchObject({ code: "LEASE_LOST", runId, heldToken: 1 });
      // 2 while the new driver's lease is recorded; a store that deletes a released lease says 0 (no holder now).
      expect([0, 2]).toContain((error as LeaseLostError).currentToken);

      const stored = await getRun(runId, { store });
      expect(stored.status).toBe("succeeded");
      expect(stored.outputs).toEqual({ slow: "new", after: "new!" });
      expect(stored.nodes.find((n) => n.id === "slow")).toMatchObject({ status: "succeeded", output: "new" });
      await expect(runAsync(g, undefined, { runId, store })).resolves.toEqual({ slow: "new", after: "new!" });
      expect(calls).toEqual(["old", "new"]);
    } finally {
      await cleanup();
    }
  });
});
