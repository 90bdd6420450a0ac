/**
 * A new run's first snapshot (src/persistence/snapshot-file.ts) is made
 * from its ids alone (`freshNodeIds`, `pendingChunks`), without a look at
 * each record: its text must be the very text the records' own columns
 * give (`toChunks`), whatever the ids (a line feed in one, which keeps the
 * ids a list; many chunks), and only a table `createRunState` made from a
 * frozen list of ids, unchanged since, may take that path. `LowdbStore`
 * writes such a run's files (snapshot and summary) as for any other.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { toChunks } from "../src/persistence/node-columns.js";
import { pendingChunks } from "../src/persistence/pending-chunks.js";
import { SNAPSHOT_FILE_VERSION, toSnapshotFileDocument } from "../src/persistence/snapshot-file.js";
import { serialize } from "../src/persistence/serialization.js";
import { commitNodes, createRunState, freshNodeIds, nodeOf, setRunStatus } from "../src/state/run-state.js";
import { nodeRecords } from "../src/state/node-table.js";
import { markReady } from "../src/state/node-transitions.js";
import { summarize } from "../src/state/run-summary.js";

const ids = fc.uniqueArray(fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.constantFrom("a\nb", "__proto__", "\n", "n0")), {
  minLength: 1,
  maxLength: 40,
});

function newRun(nodeIds: readonly string[]) {
  return createRunState({ runId: "r", graphName: "g", fingerprint: "f", inputs: undefined, nodeIds, now: 1_796_000_000_000 });
}

/** The snapshot text the records' own columns give (the path every other table takes). */
function recordsText(state: ReturnType<typeof newRun>, seq: number): string {
  return serialize({ version: SNAPSHOT_FILE_VERSION, seq, meta: state.meta, nodes: toChunks(nodeRecords(state.nodes)) });
}

describe("a new run's first snapshot", () => {
  it("is the text its records give, for any ids", () => {
    fc.assert(
      fc.property(ids, fc.nat(3), (list, seq) => {
        const state = newRun(Object.freeze([...list]));
        expect(freshNodeIds(state.nodes)).toBeDefined();
        expect(serialize(toSnapshotFileDocument(state, seq))).toBe(recordsText(state, seq));
      }),
    );
  });

  it("gives the records' own chunks at any chunk size", () => {
    fc.assert(
      fc.property(ids, fc.integer({ min: 1, max: 7 }), (list, perChunk) => {
        const frozen = Object.freeze([...list]);
        const state = newRun(frozen);
        expect(pendingChunks(frozen, perChunk)).toEqual(toChunks(nodeRecords(state.nodes), perChunk));
      }),
    );
  });

  it("keeps the ids a list when one holds a line feed, and joins them otherwise", () => {
    expect(pendingChunks(Object.freeze(["a", "b\nc"]))[0]!.id).toEqual(["a", "b\nc"]);
    expect(pendingChunks(Object.freeze(["a", "b"]))[0]!.id).toBe("a\nb");
  });

  it("is vouched for only while the table is the one made from frozen ids", () => {
    const state = newRun(Object.freeze(["a", "b"]));
    expect(freshNodeIds(state.nodes)).toEqual(["a", "b"]);
    // A run status change keeps the table; a node change makes another one.
    expect(freshNodeIds(setRunStatus(state, "running", 2).nodes)).toEqual(["a", "b"]);
    const changed = commitNodes(state, [markReady()(nodeOf(state, "a"))], 3);
    expect(freshNodeIds(changed.nodes)).toBeUndefined();
    expect(serialize(toSnapshotFileDocument(changed, 1))).toBe(recordsText(changed, 1));
    // A list that may still change is not trusted.
    expect(freshNodeIds(newRun(["a", "b"]).nodes)).toBeUndefined();
  });
});

describe("LowdbStore's first snapshot of a new run", () => {
  it("writes the snapshot and the summary its records give", async () => {
    const dir = mkdtempSync(join(tmpdir(), "taskloom-fresh-run-"));
    try {
      // Kept as a folder (`layout: "folders"`): its snapshot.json and summary.json are read below.
      const store = new LowdbStore({ dir, layout: "folders" });
      const state = setRunStatus(newRun(Object.freeze(["root", "a\nb", ...Array.from({ length: 30 }, (_, i) => `n${i}`)])), "running", 2);
      expect(freshNodeIds(state.nodes)).toBeDefined();
      await store.writeSnapshot(state, 0);
      await store.close();
      const files = join(dir, "runs", "r");
      expect(readFileSync(join(files, "snapshot.json"), "utf8")).toBe(recordsText(state, 0));
      expect(readFileSync(join(files, "summary.json"), "utf8")).toBe(serialize(summarize(state)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
