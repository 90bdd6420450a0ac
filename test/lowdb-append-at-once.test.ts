/**
 * `LowdbStore.append` with no call on its run in flight is made at once
 * (src/persistence/lowdb-store.ts): the record is in the journal when the
 * call returns, and a failure is still a rejected promise, never a throw.
 * Made while another call on the run is in flight (a snapshot being
 * written, an fsync flush of several records), it still waits its turn:
 * it never lands before a snapshot's journal truncation, nor ahead of an
 * earlier append.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidRunIdError, LowdbStore } from "../src/index.js";
import { nodeOf } from "../src/state/run-state.js";
import type { JournalRecord } from "../src/state/records.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-append-at-once-");

/** The tests that read the journal read a run folder's (`runs/<runId>/journal.ndjson`): their stores keep runs as folders. */
const FOLDERS = { layout: "folders" } as const;

/** The seqs of the records in the run's journal file, in file order. */
function journalSeqs(dir: string, runId: string): number[] {
  const text = readFileSync(join(dir, "runs", runId, "journal.ndjson"), "utf8").replace(/\0+$/, "");
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => (JSON.parse(line) as { json: JournalRecord }).json.seq);
}

describe("LowdbStore.append at once", () => {
  it("has the record in the journal when the call returns, with no call on the run in flight", async () => {
    const dir = tempDir();
    const store = lowdb(dir, FOLDERS);
    await store.writeSnapshot(sampleRun("r1"), 0);
    const appending = store.append("r1", [nodeRecord(1, "a")]);
    expect(journalSeqs(dir, "r1")).toEqual([1]);
    await appending;
    expect(nodeOf((await store.load("r1"))!.state, "a").status).toBe("running");
  });

  it("rejects, never throws, when the append cannot be made", async () => {
    const store = lowdb(tempDir());
    let noSnapshot: Promise<void> | undefined;
    expect(() => (noSnapshot = store.append("r1", [nodeRecord(1, "a")]))).not.toThrow();
    await expect(noSnapshot).rejects.toThrow(/no snapshot/);
    let badId: Promise<void> | undefined;
    expect(() => (badId = store.append("../x", [nodeRecord(1, "a")]))).not.toThrow();
    await expect(badId).rejects.toBeInstanceOf(InvalidRunIdError);
  });

  it("waits for a snapshot in flight: the append lands after the snapshot's journal truncation", async () => {
    const dir = tempDir();
    const store = lowdb(dir, FOLDERS);
    await store.writeSnapshot(sampleRun("r1"), 0);
    await store.append("r1", [nodeRecord(1, "a")]);
    // A snapshot that includes seq 1 empties the journal; the append made meanwhile must survive it.
    const snapshot = store.writeSnapshot(sampleRun("r1"), 1);
    const appending = store.append("r1", [nodeRecord(2, "b")]);
    await Promise.all([snapshot, appending]);
    expect(journalSeqs(dir, "r1")).toEqual([2]);
    const loaded = await lowdb(dir, FOLDERS).load("r1");
    expect(nodeOf(loaded!.state, "b").status).toBe("running");
  });

  it("waits for a delete in flight: an append made after it finds the run gone", async () => {
    const dir = tempDir();
    const store = lowdb(dir);
    await store.writeSnapshot(sampleRun("r1"), 0);
    const deleting = store.delete("r1");
    const appending = store.append("r1", [nodeRecord(1, "a")]);
    expect(await deleting).toBe(true);
    await expect(appending).rejects.toThrow(/no snapshot/);
    expect(await lowdb(dir).load("r1")).toBeUndefined();
  });

  it("keeps appends in order behind an fsync flush of several records", async () => {
    const dir = tempDir();
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    try {
      await store.writeSnapshot(sampleRun("r1"), 0);
      const several = store.append("r1", [nodeRecord(1, "a"), nodeRecord(2, "b")]);
      const one = store.append("r1", [nodeRecord(3, "c")]);
      const another = store.append("r1", [nodeRecord(4, "a", { status: "succeeded", output: 1, endedAt: 3_000 })]);
      await Promise.all([several, one, another]);
      expect(journalSeqs(dir, "r1")).toEqual([1, 2, 3, 4]);
      expect(nodeOf((await lowdb(dir, FOLDERS).load("r1"))!.state, "a").status).toBe("succeeded");
    } finally {
      await store.close();
    }
  });
});
