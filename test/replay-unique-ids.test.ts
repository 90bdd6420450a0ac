/**
 * A snapshot's node ids must be unique. `LowdbStore` reads its snapshot
 * with `checkSnapshotFields` (no set of ids) and leaves that check to the
 * replay, which indexes the records by id anyway (replay.ts, `Replay`):
 * these tests hold that a repeated id is still refused, with the phrase
 * `checkSnapshot` gives, whether the journal after the snapshot is empty
 * (the state's table sees it) or holds records (the replay's map does).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { getRun, graph, runAsync, serialize, SnapshotCorruptError } from "../src/index.js";
import { replay, type SnapshotDocument } from "../src/persistence/replay.js";
import { checkSnapshot, checkSnapshotFields } from "../src/persistence/snapshot-schema.js";
import { tempStores } from "./support/temp-stores.js";

// The run's snapshot.json is rewritten here: every store keeps its runs as folders.
const { tempDir, lowdb } = tempStores("taskloom-unique-ids-", { layout: "folders" });

const chain = () =>
  graph("chain")
    .node("a", () => 1)
    .node("b", ({ deps }) => deps.a + 1, { after: ["a"] })
    .build();

const doc = (nodes: { id: string }[]): SnapshotDocument =>
  ({
    version: 1,
    seq: 3,
    meta: { runId: "r", graphName: "g", fingerprint: "f", status: "failed", createdAt: 0, updatedAt: 0, starts: 1, waits: [] },
    nodes: nodes.map((n) => ({ nodeId: n.id, status: "succeeded", attempts: 1, output: 1, ...n })),
  }) as unknown as SnapshotDocument;

describe("a snapshot whose node ids repeat", () => {
  it("checkSnapshot names it; checkSnapshotFields leaves it to the replay", () => {
    const twice = doc([{ id: "a" }, { id: "b" }, { id: "a" }]);
    expect(checkSnapshot(twice)).toBe('two node records have id "a"');
    expect(checkSnapshotFields(twice)).toBeUndefined();
  });

  it("replay refuses it, with nothing to replay and with journal records, naming the source", () => {
    const twice = doc([{ id: "a" }, { id: "b" }, { id: "a" }]);
    const refused = (records: Parameters<typeof replay>[1]) => {
      try {
        replay(twice, records, "/x/snapshot.json");
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const node = { kind: "node" as const, seq: 4, node: { id: "b", nodeId: "b", status: "pending" as const, attempts: 0 } };
    for (const records of [[], [node]]) {
      const error = refused(records);
      expect(error).toBeInstanceOf(SnapshotCorruptError);
      expect((error as SnapshotCorruptError).file).toBe("/x/snapshot.json");
      expect((error as SnapshotCorruptError).message).toContain('two node records have id "a"');
    }
    // Records at or below the snapshot's seq are not replayed: the state's table sees the repeat then.
    expect(refused([{ ...node, seq: 2 }])).toBeInstanceOf(SnapshotCorruptError);
  });

  it("replay takes unique ids, with or without records", () => {
    const once = doc([{ id: "a" }, { id: "b" }]);
    expect(replay(once, []).state.nodes.index.size).toBe(2);
    const node = { kind: "node" as const, seq: 4, node: { id: "c", nodeId: "c", status: "pending" as const, attempts: 0 } };
    expect(replay(once, [node]).state.nodes.index.size).toBe(3);
  });

  it("LowdbStore refuses it on load, naming the snapshot, when the run ended with a snapshot and no journal after it", async () => {
    const dir = tempDir();
    await runAsync(chain(), undefined, { store: lowdb(dir), runId: "r1", snapshot: "end" });
    const snapshot = join(dir, "runs", "r1", "snapshot.json");
    expect(await readFile(join(dir, "runs", "r1", "journal.ndjson"), "utf8").catch(() => "")).toBe("");
    const json = (JSON.parse(await readFile(snapshot, "utf8")) as { json: { nodes: object[] } }).json;
    await writeFile(snapshot, serialize({ ...json, nodes: [...json.nodes, json.nodes[0]] }));
    const before = await readFile(snapshot);
    const error = await getRun("r1", { store: lowdb(dir) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SnapshotCorruptError);
    expect((error as SnapshotCorruptError).file).toBe(snapshot);
    expect((error as SnapshotCorruptError).message).toContain('two node records have id "a"');
    expect(await readFile(snapshot)).toEqual(before);
  });
});
