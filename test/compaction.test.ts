/**
 * Compaction keeps the cost of persistence linear in the run's size, also
 * for runs that grow while they run (graphFn steps, map elements): the
 * snapshots written over a whole run must add up to a constant times the
 * number of activations, never to the square of it.
 */
import { describe, expect, it } from "vitest";
import { MemoryStore, graph, graphFn, runAsync, type RunState } from "../src/index.js";

/** A MemoryStore that adds up the activations written by every full snapshot. */
class SnapshotMeter extends MemoryStore {
  snapshots = 0;
  recordsWritten = 0;
  override async writeSnapshot(state: RunState, seq: number): Promise<void> {
    this.snapshots += 1;
    this.recordsWritten += state.nodes.index.size;
    return super.writeSnapshot(state, seq);
  }
}

describe("compaction in growing runs", () => {
  it("a graphFn of 20,000 sequential steps writes snapshots totalling a few times its size", async () => {
    const n = 20_000;
    const store = new SnapshotMeter();
    const fn = graphFn("many-steps", async (_: undefined, { step }) => {
      let total = 0;
      for (let i = 0; i < n; i++) total += await step(`s${i}`, () => 1);
      return total;
    });
    expect(await runAsync(fn, undefined, { store, maxConcurrency: 1 })).toBe(n);
    // A threshold fixed at start (1,024 records for a graph with no static nodes) wrote ~20x n here.
    expect(store.recordsWritten).toBeLessThan(4 * n);
  });

  it("a map over 20,000 elements does the same", async () => {
    const n = 20_000;
    const store = new SnapshotMeter();
    const g = graph("big-map")
      .node("list", () => Array.from({ length: n }, (_, i) => i))
      .map("double", "list", ({ item }) => item * 2)
      .build();
    const out = await runAsync(g, undefined, { store });
    expect(out.double).toHaveLength(n);
    expect(store.recordsWritten).toBeLessThan(4 * n);
  });
});
