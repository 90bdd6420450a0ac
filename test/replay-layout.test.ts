/**
 * A load given the layout of the run's graph (`LoadHint`, replay.ts): when
 * the stored records start with the graph's node ids in its order, the
 * loaded table is indexed by the graph's own map of positions (no map of
 * 10,000 ids built for a 10,000-node resume), and the run loaded is the
 * very one a load without the hint gives, whatever the records: ids in
 * another order, fewer or more of them, activations added after the
 * graph's, journal records over them. Repeated ids are still refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { graph, LowdbStore, MemoryStore, NonRetryableError, runAsync, SnapshotCorruptError } from "../src/index.js";
import { replay, type SnapshotDocument } from "../src/persistence/replay.js";
import { graphIndex } from "../src/graph/graph-index.js";
import type { TaskGraph } from "../src/graph/task-graph.js";
import { getNode, nodeRecords } from "../src/state/node-table.js";
import type { JournalRecord, NodeRecord, RunMeta } from "../src/state/records.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-replay-layout-");

const META = { runId: "r", graphName: "g", fingerprint: "f", status: "failed", createdAt: 1, updatedAt: 2, starts: 1, waits: [] } as unknown as RunMeta;
const rec = (id: string, status: NodeRecord["status"] = "succeeded"): NodeRecord => ({ id, nodeId: id.split("[")[0]!, status, attempts: 1 });

/** A map of positions that counts its lookups. */
class CountingMap extends Map<string, number> {
  gets = 0;
  override get(id: string): number | undefined {
    this.gets += 1;
    return super.get(id);
  }
}

const layoutOf = (order: string[]) => ({ order, positions: new CountingMap(order.map((id, p) => [id, p])) });
const doc = (nodes: NodeRecord[], seq = 3): SnapshotDocument => ({ version: 1, seq, meta: META, nodes });
const content = (r: ReturnType<typeof replay>) => ({
  meta: r.state.meta,
  nodes: [...nodeRecords(r.state.nodes)],
  seq: r.seq,
  journalRecords: r.journalRecords,
});

describe("a load given the graph's layout", () => {
  it("indexes records that start with the graph's ids by the graph's map, and by a map of its own those after them", () => {
    const layout = layoutOf(["a", "b", "c"]);
    const loaded = replay(doc([rec("a"), rec("b"), rec("c"), rec("c[0]")]), [], undefined, layout);
    const table = loaded.state.nodes;
    expect(getNode(table, "b")).toEqual(rec("b"));
    expect(getNode(table, "c[0]")).toEqual(rec("c[0]"));
    expect(table.index.get("c[0]")).toBe(3);
    expect(table.index.size).toBe(4);
    // Lookups of the graph's ids go to the graph's map: no map of them was built for the load.
    const before = layout.positions.gets;
    expect(getNode(table, "a")).toEqual(rec("a"));
    expect(layout.positions.gets).toBe(before + 1);
  });

  it("loads the same run as without it, whatever the records and the journal", () => {
    const ids = fc.constantFrom("a", "b", "c", "d", "a[0]", "a[1]", "b#2");
    const node = fc.record({ id: ids, status: fc.constantFrom("pending" as const, "failed" as const, "succeeded" as const) });
    fc.assert(
      fc.property(
        fc.uniqueArray(ids, { maxLength: 7 }),
        fc.array(node, { maxLength: 4 }),
        fc.uniqueArray(ids, { minLength: 1, maxLength: 4 }),
        (stored, journal, order) => {
          const records: JournalRecord[] = journal.map((n, i) => ({ kind: "node", seq: 4 + i, node: rec(n.id, n.status) }));
          const plain = content(replay(doc(stored.map((id) => rec(id))), records));
          expect(content(replay(doc(stored.map((id) => rec(id))), records, undefined, layoutOf(order)))).toEqual(plain);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses repeated ids: one of the graph's after them, or two after them", () => {
    const layout = layoutOf(["a", "b"]);
    for (const nodes of [
      [rec("a"), rec("b"), rec("a")],
      [rec("a"), rec("b"), rec("x"), rec("x")],
    ]) {
      expect(() => replay(doc(nodes), [], "/x/snapshot.json", layout)).toThrow(SnapshotCorruptError);
      expect(() => replay(doc(nodes), [{ kind: "node", seq: 4, node: rec("b") }], "/x/snapshot.json", layout)).toThrow(/two node records have id/);
    }
  });

  it("is what a resume gives LowdbStore and MemoryStore: the graph's map indexes the resumed run", async () => {
    for (const make of [() => lowdb(tempDir()), () => new MemoryStore()]) {
      const store: LowdbStore | MemoryStore = make();
      const failing = { on: true };
      const ids = ["n0", "n1", "n2", "n3"];
      let b = graph("layout").node("root", async () => 0) as unknown as {
        node(id: string, fn: () => Promise<number>, o?: { after: string[] }): typeof b;
        build(): TaskGraph<unknown, unknown>;
      };
      for (const [i, id] of ids.entries()) {
        b = b.node(
          id,
          async () => {
            if (failing.on && i === 2) throw new NonRetryableError("planned");
            return i;
          },
          { after: ["root"] },
        );
      }
      const g = b.node("join", async () => 0, { after: ids }).build();
      await expect(runAsync(g, undefined, { store, runId: "r", continueOnError: true, retry: { maxAttempts: 1 } })).rejects.toThrow();
      const { position } = graphIndex(g);
      const loaded = await store.load("r", { layout: { order: g.order, positions: position } });
      // Every graph node is where the graph puts it, found through the graph's own map.
      for (const id of g.order) expect(loaded!.state.nodes.index.get(id)).toBe(position.get(id));
      expect([...nodeRecords(loaded!.state.nodes)].map((n) => n.id)).toEqual(g.order);
      failing.on = false;
      await expect(runAsync(g, undefined, { store, runId: "r" })).resolves.toBeDefined();
      await store.close();
    }
  });
});
