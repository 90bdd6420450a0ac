/**
 * What the engine promises about durability now that a success nothing
 * waits for (a leaf, a fan-out branch whose join still waits for others)
 * awaits no barrier of its own: a dependent still starts only once every
 * result it reads is in the store, and a store that fails on such a
 * success's write still fails the run with `PersistenceError`.
 */
import { describe, expect, it } from "vitest";
import { graph, MemoryStore, PersistenceError, runAsync, type GraphBuilder, type JournalRecord, type Lease } from "../src/index.js";
import { nodeRecords } from "../src/state/node-table.js";
import { rejection } from "./support/async.js";

type LooseBuilder = GraphBuilder<undefined, Record<string, unknown>, never>;

/** A fan-out of `width` branches and a join whose body reads the store. */
function fanout(width: number, join: (deps: Record<string, unknown>) => Promise<unknown>): ReturnType<LooseBuilder["build"]> {
  const ids = Array.from({ length: width }, (_, i) => `b${i}`);
  let b = (graph("fan") as unknown as LooseBuilder).node("root", () => 0);
  for (const [i, id] of ids.entries()) b = b.node(id, async () => i, { after: ["root"] as never });
  b = b.node("join", ({ deps }) => join(deps as Record<string, unknown>), { after: ids as never });
  return b.build();
}

describe("durability of results nothing waits for", () => {
  it("a join starts only once every branch's success is in the store (200 branches, concurrency 3)", async () => {
    const store = new MemoryStore();
    let seen: Record<string, unknown> = {};
    const g = fanout(200, async () => {
      const stored = await store.load("fan-1");
      if (!stored) throw new Error("the run is not in the store");
      seen = {};
      for (const n of nodeRecords(stored.state.nodes)) if (n.status === "succeeded") seen[n.id] = n.output;
      return Object.keys(seen).length;
    });
    const outputs = (await runAsync(g, undefined, { store, runId: "fan-1", maxConcurrency: 3 })) as Record<string, unknown>;
    // root and the 200 branches, all stored before the join ran.
    expect(outputs.join).toBe(201);
    for (let i = 0; i < 200; i++) expect(seen[`b${i}`]).toBe(i);
  });

  it("a store that fails on the write of branch successes fails the run with PersistenceError", async () => {
    class FailingAppends extends MemoryStore {
      override async append(runId: string, records: readonly JournalRecord[], lease?: Lease): Promise<void> {
        if (records.some((r) => r.kind === "node" && r.node.id.startsWith("b") && r.node.status === "succeeded")) {
          throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        }
        return super.append(runId, records, lease);
      }
    }
    const g = fanout(50, async () => "never");
    const error = await rejection(runAsync(g, undefined, { store: new FailingAppends(), runId: "fan-2", maxConcurrency: 4 }));
    expect(error).toBeInstanceOf(PersistenceError);
    expect((error as Error).cause).toMatchObject({ code: "ENOSPC" });
  });

  it("a graph of leaves only (no node waits for another) succeeds, and every leaf is in the final snapshot", async () => {
    const store = new MemoryStore();
    let b = graph("leaves") as unknown as LooseBuilder;
    for (let i = 0; i < 100; i++) b = b.node(`l${i}`, async () => i * 2);
    await runAsync(b.build(), undefined, { store, runId: "leaves", maxConcurrency: 5 });
    const stored = await store.load("leaves");
    const records = [...nodeRecords(stored?.state.nodes ?? { index: new Map(), shardSize: 1, shards: [] })];
    expect(records).toHaveLength(100);
    for (const n of records) expect(n).toMatchObject({ status: "succeeded", output: Number(n.id.slice(1)) * 2 });
    expect(stored?.state.meta.status).toBe("succeeded");
  });
});
