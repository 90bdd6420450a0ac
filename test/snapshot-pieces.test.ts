/**
 * A big run's snapshot is made and written in pieces (issue 16: a
 * million-node run never holds its snapshot as one string): what lands on
 * disk is the very file the one-string write made, byte for byte, under
 * the same atomic replace, and it loads back as the run that was saved.
 * `writeFileAtomicPieces` (src/persistence/atomic-file.ts) on its own:
 * small and big contents, and a piece that cannot be made, which leaves
 * the old file and no temp file. The store keeps the run as a folder
 * (`layout: "folders"`), whose snapshot.json is read here.
 */
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LARGE_WRITE_BYTES, writeFileAtomicPieces } from "../src/persistence/atomic-file.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { toSnapshotFileDocument } from "../src/persistence/snapshot-file.js";
import { PIECE_ITEMS, serialize } from "../src/persistence/serialization.js";
import { nodeRecords } from "../src/state/node-table.js";
import { applyTransition, createRunState, setRunStatus, type RunState } from "../src/state/run-state.js";
import { markRunning, markSucceeded } from "../src/state/node-transitions.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-pieces-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writeFileAtomicPieces", () => {
  const cases = [
    ["one small piece", ["{}"]],
    ["small pieces gathered", ["a", "b", "c".repeat(1000)]],
    ["big pieces through the pool", Array.from({ length: 7 }, (_, i) => String(i).repeat(Math.ceil(LARGE_WRITE_BYTES / 3)))],
    ["one big piece", ["z".repeat(LARGE_WRITE_BYTES + 1)]],
  ] as const;
  it.each(cases)("writes the pieces joined (%s), 0600, with no temp file left", async (_name, pieces) => {
    for (const fsync of [false, true]) {
      const file = join(dir, "doc.json");
      await writeFile(file, "old");
      await writeFileAtomicPieces(file, pieces, fsync);
      expect(readFileSync(file, "utf8")).toBe(pieces.join(""));
      expect(lstatSync(file).mode & 0o777).toBe(0o600);
      expect(readdirSync(dir)).toEqual(["doc.json"]);
    }
  });

  it.each([1, 5])("leaves the old file, and no temp file, when piece %i cannot be made", async (failAt) => {
    const file = join(dir, "doc.json");
    await writeFile(file, "old");
    function* pieces(): Generator<string> {
      for (let i = 0; i < 8; i++) {
        if (i === failAt) throw new Error("piece failed");
        yield "p".repeat(LARGE_WRITE_BYTES / 2);
      }
    }
    await expect(writeFileAtomicPieces(file, pieces())).rejects.toThrow("piece failed");
    expect(readFileSync(file, "utf8")).toBe("old");
    expect(readdirSync(dir)).toEqual(["doc.json"]);
  });
});

/** A running run of `n` nodes, every other one succeeded (some with an `undefined` output, which superjson annotates). */
function bigRun(n: number): RunState {
  const ids = Array.from({ length: n }, (_, i) => `node-${i}`);
  let state = setRunStatus(createRunState({ runId: "big", graphName: "g", fingerprint: "f", inputs: undefined, nodeIds: ids, now: 1 }), "running", 2);
  for (let i = 0; i < n; i += 2) {
    state = applyTransition(state, ids[i]!, markRunning(3), 3);
    state = applyTransition(state, ids[i]!, markSucceeded(i % 6 === 0 ? undefined : { i, text: `out ${i}` }, true, 4), 4);
  }
  return state;
}

describe("LowdbStore: a snapshot of more than PIECE_ITEMS records", () => {
  it("is on disk byte for byte what the one-string write made, and loads back as saved", async () => {
    const n = PIECE_ITEMS * 2 + 123;
    const state = bigRun(n);
    const store = new LowdbStore({ dir, layout: "folders" });
    try {
      await store.writeSnapshot(state, 7);
      const text = readFileSync(join(dir, "runs", "big", "snapshot.json"), "utf8");
      expect(text).toBe(serialize(toSnapshotFileDocument(state, 7)));
      // Every other node succeeded, so a chunk's outputs are listed by position; the first record's is undefined.
      expect(text).toContain('"nodes.0.output.v.0":["undefined"]');
      // A path in the third piece (chunk) names that chunk, and the output's place among the chunk's outputs.
      const lastUndefined = Math.floor((n - 1) / 6) * 6;
      expect(lastUndefined).toBeGreaterThan(PIECE_ITEMS * 2);
      expect(text).toContain(`"nodes.2.output.v.${(lastUndefined - 2 * PIECE_ITEMS) / 2}":["undefined"]`);
      const loaded = await new LowdbStore({ dir, layout: "folders" }).load("big");
      expect(loaded?.seq).toBe(7);
      expect(loaded?.state.meta).toEqual(state.meta);
      expect([...nodeRecords(loaded!.state.nodes)]).toEqual([...nodeRecords(state.nodes)]);
      expect(readdirSync(join(dir, "runs", "big")).sort()).toEqual(["journal.ndjson", "snapshot.json", "summary.json"]);
    } finally {
      await store.close();
    }
  });
});
