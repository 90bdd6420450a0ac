/**
 * A run that ended leaves no write of the persistence observer waiting
 * for the next turn of the event loop (persistence/persistence-observer.ts,
 * `#cancelTurnWrite`). Such a write would write nothing (the end wrote
 * everything), but until the loop turns its immediate holds the observer,
 * the run's state and its session: a caller that starts run after run in
 * microtasks (a stage runner's sweep on `MemoryStore` does) kept every
 * finished run alive until it yielded. Node lists the immediates that are
 * due in `process.getActiveResourcesInfo()`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { graph, LowdbStore, MemoryStore, runAsync, type RunStore } from "../src/index.js";

const dueImmediates = (): number => process.getActiveResourcesInfo().filter((name) => name === "Immediate").length;

const twoSteps = graph("turn-write")
  .node("a", async () => 1)
  .node("b", async ({ deps }) => deps.a + 1, { after: ["a"] })
  .build();

const stores: [string, () => RunStore][] = [
  ["MemoryStore", () => new MemoryStore()],
  ["LowdbStore", () => new LowdbStore({ dir: mkdtempSync(join(tmpdir(), "taskloom-turn-write-")) })],
];

describe.each(stores)("runs started back to back in microtasks (%s)", (_name, makeStore) => {
  it("leave no immediate due once each has returned", async () => {
    const store = makeStore();
    try {
      const before = dueImmediates();
      for (let i = 0; i < 20; i++) {
        const outputs = await runAsync(twoSteps, undefined, { store, runId: `run-${i}` });
        expect(outputs).toEqual({ a: 1, b: 2 });
        expect(dueImmediates()).toBe(before);
      }
      // The runs were saved in full all the same: each reads back as it ended.
      const last = await store.load("run-19");
      expect(last?.state.meta.status).toBe("succeeded");
      expect(last?.state.nodes.index.size).toBe(2);
    } finally {
      await store.close();
    }
  });
});
