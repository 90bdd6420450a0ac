/**
 * Compact journal records (src/persistence/journal-delta.ts): a resume
 * through a `LowdbStore` writes its reset nodes as `{ reset: id }` and
 * their results as `{ node, sameLog: true }` instead of repeating the
 * failed attempt's error in every line, and a load rebuilds the very
 * records (attempt log, error and all). A compact record is chosen by
 * what the store holds, never assumed: a record that is not what
 * `markPending` makes of the stored one is written whole, and a compact
 * record with nothing to apply to is `SnapshotCorruptError` naming the
 * journal. On both layouts: a run folder's `journal.ndjson`, and the
 * records after a run file's snapshot line (the default).
 */
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { getRun, graph, NonRetryableError, runAsync, serialize, SnapshotCorruptError } from "../src/index.js";
import { PriorRecords } from "../src/persistence/journal-delta.js";
import type { StoredRun } from "../src/persistence/run-store.js";
import { createNodeTable, nodeRecords } from "../src/state/node-table.js";
import { markPending } from "../src/state/node-transitions.js";
import type { JournalRecord, NodeRecord } from "../src/state/records.js";
import { runFile, runFileJournal } from "./support/run-file-journal.js";
import { tempStores, type TempStoreOptions } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-journal-delta-");

/** Where a layout keeps run "r"'s journal records: the file to damage, and its records after the snapshot as text. */
interface Layout {
  readonly name: string;
  readonly options: TempStoreOptions;
  readonly file: (dir: string) => string;
  readonly journal: (dir: string) => string;
}

const LAYOUTS: readonly Layout[] = [
  {
    name: "runs kept as folders",
    options: { layout: "folders" },
    file: (dir) => join(dir, "runs", "r", "journal.ndjson"),
    journal: (dir) => readFileSync(join(dir, "runs", "r", "journal.ndjson"), "utf8"),
  },
  { name: "runs kept as run files (the default)", options: {}, file: (dir) => runFile(dir, "r"), journal: (dir) => runFileJournal(dir, "r") },
];

/** A fan-out of 30 nodes whose every tenth fails while `failing.on`. */
function flaky(failing: { on: boolean }) {
  type Loose = { node(id: string, fn: () => Promise<number>, o?: { after: string[] }): Loose; output(fn: () => null): { build(): unknown } };
  let b = graph("delta") as unknown as Loose;
  const ids = Array.from({ length: 30 }, (_, i) => `n${i}`);
  b = b.node("root", async () => 0);
  ids.forEach((id, i) => {
    b = b.node(
      id,
      async () => {
        if (failing.on && i % 10 === 0) throw new NonRetryableError(`planned failure of ${id}`);
        return i;
      },
      { after: ["root"] },
    );
  });
  return b
    .node("join", async () => 0, { after: ids })
    .output(() => null)
    .build() as ReturnType<ReturnType<typeof graph>["build"]>;
}

const lines = (layout: Layout, dir: string) =>
  layout
    .journal(dir)
    .split("\n")
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { json: Record<string, unknown> }).json);

describe.each(LAYOUTS)("a resume through a LowdbStore, $name", (layout) => {
  const store = (dir: string) => lowdb(dir, layout.options);

  it("journals its resets and their results without repeating the attempt log, and loads back every record whole", async () => {
    const dir = tempDir();
    const failing = { on: true };
    const g = flaky(failing);
    const first = store(dir);
    await expect(runAsync(g, undefined, { store: first, runId: "r", continueOnError: true, retry: { maxAttempts: 1 } })).rejects.toThrow();
    const failed = new Map((await getRun("r", { store: first })).nodes.filter((n) => n.status === "failed").map((n) => [n.id, n]));
    expect([...failed.keys()].sort()).toEqual(["n0", "n10", "n20"]);
    await first.close();

    failing.on = false;
    const second = store(dir);
    await runAsync(g, undefined, { store: second, runId: "r" });
    await second.close();
    const journal = lines(layout, dir);
    // The three resets are one line of resets (the start's one append), the records of seqs seq - 2 to seq.
    expect(journal.filter((r) => "reset" in r)).toEqual([]);
    expect(journal.filter((r) => "resets" in r).map((r) => r.resets)).toEqual([["n0", "n10", "n20"]]);
    const sameLog = journal.filter((r) => r.sameLog === true);
    expect(sameLog.map((r) => (r.node as NodeRecord).id).sort()).toEqual(["n0", "n10", "n20"]);
    for (const r of sameLog) expect(r.node).not.toHaveProperty("attemptLog");
    expect(JSON.stringify(journal)).not.toContain("planned failure");

    const loaded = await getRun("r", { store: store(dir) });
    expect(loaded.status).toBe("succeeded");
    for (const [id, before] of failed) {
      const n = loaded.nodes.find((x) => x.id === id)!;
      expect(n).toMatchObject({ status: "succeeded", attempts: 1, output: Number(id.slice(1)) });
      expect(n.attemptLog).toEqual([{ startedAt: before.startedAt, endedAt: before.endedAt, outcome: "failed", error: before.error }]);
    }
  });

  it("writes whole what a store appends to a run another store object appended to since it loaded it, and loads it back as written", async () => {
    const dir = tempDir();
    await expect(
      runAsync(flaky({ on: true }), undefined, { store: store(dir), runId: "r", continueOnError: true, retry: { maxAttempts: 1 } }),
    ).rejects.toThrow();
    const x = store(dir);
    const y = store(dir);
    const n0 = (stored: StoredRun) => [...nodeRecords(stored.state.nodes)].find((n) => n.id === "n0")!;
    const seenByX = (await x.load("r"))!;
    const seenByY = (await y.load("r"))!;
    expect(n0(seenByX).status).toBe("failed");
    // Y records n0 as succeeded: the run's latest record of n0 is no longer the one X loaded.
    const { error: _failure, ...rest } = n0(seenByY);
    await y.append("r", [{ kind: "node", seq: seenByY.seq + 1, node: { ...rest, status: "succeeded", output: 42 } }]);
    await y.close();
    // X resets n0 from what it loaded: a compact reset would stand for Y's record reset instead.
    const reset = markPending()(n0(seenByX));
    await x.append("r", [{ kind: "node", seq: seenByY.seq + 2, node: reset }]);
    await x.close();
    expect(lines(layout, dir).filter((r) => "reset" in r || "resets" in r)).toEqual([]);
    expect(n0((await store(dir).load("r"))!)).toEqual(reset);
  });

  it("a compact record with no earlier record to apply to is SnapshotCorruptError naming the journal", async () => {
    const dir = tempDir();
    await runAsync(flaky({ on: false }), undefined, { store: store(dir), runId: "r", snapshot: "end" });
    const journal = layout.file(dir);
    appendFileSync(journal, `${serialize({ kind: "node", seq: 999, reset: "nobody" })}\n`);
    const error = await getRun("r", { store: store(dir) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SnapshotCorruptError);
    expect((error as SnapshotCorruptError).file).toBe(journal);
  });
});

describe("PriorRecords", () => {
  const failedNode: NodeRecord = {
    id: "a",
    nodeId: "a",
    status: "failed",
    attempts: 1,
    startedAt: 1,
    endedAt: 2,
    error: { name: "Error", message: "boom" },
  };
  const node = (n: NodeRecord, seq: number): JournalRecord => ({ kind: "node", seq, node: n });

  it("writes compact records only against what the store holds", () => {
    const priors = new PriorRecords();
    const reset = markPending()(failedNode);
    // A run the store did not load: every record whole.
    expect(priors.encode("r", [node(reset, 1)])).toEqual([node(reset, 1)]);
    const table = createNodeTable([failedNode]);
    priors.based("r", table);
    expect(priors.encode("r", [node(reset, 1)])).toEqual([{ kind: "node", seq: 1, reset: "a" }]);
    // Not what markPending makes of the stored record (another attempt in the log): whole.
    const other = { ...reset, attemptLog: [{ startedAt: 1, outcome: "interrupted" as const }] };
    expect(priors.encode("r", [node(other, 1)])).toEqual([node(other, 1)]);
    // After an append, the appended record is the one compared with.
    priors.appended("r", [node(reset, 1)]);
    const running: NodeRecord = { id: "a", nodeId: "a", status: "running", attempts: 1, startedAt: 5, attemptLog: reset.attemptLog! };
    const { attemptLog: _log, ...withoutLog } = running;
    expect(priors.encode("r", [node(running, 2)])).toEqual([{ kind: "node", seq: 2, node: withoutLog, sameLog: true }]);
    const otherFailure = markPending()({ ...failedNode, error: { name: "Error", message: "another" } });
    expect(priors.encode("r", [node(otherFailure, 2)])).toEqual([node(otherFailure, 2)]);
    // Within one append, an earlier record is the later one's prior.
    const again = markPending()(running);
    expect(priors.encode("r", [node(running, 2), node(again, 3)])[1]).toEqual({ kind: "node", seq: 3, reset: "a" });
    // An earlier record of the call without an attempt log counts as well: the later one, which has the stored log, is then written whole.
    const { attemptLog: _dropped, ...noLog } = running;
    expect(priors.encode("r", [node(noLog, 2), node(running, 3)])).toEqual([node(noLog, 2), node(running, 3)]);
    priors.forget("r");
    expect(priors.encode("r", [node(running, 2)])).toEqual([node(running, 2)]);
  });
});
