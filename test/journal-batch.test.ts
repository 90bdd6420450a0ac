/**
 * Batch journal lines (src/persistence/journal-batch.ts): an append's run
 * of node records written as one line of columns reads back as exactly
 * the records the per-record lines (the encoder before it, still used for
 * small appends) give, and a batch line torn anywhere reads as none of
 * its records:
 *
 * - property: node records of every shape (odd strings and numbers,
 *   `undefined` fields, `Date`s, `Map`s, `BigInt`s, errors, attempt logs,
 *   unknown and `__proto__` keys, a `nodeId` other than the id, ids with a
 *   line feed, records no batch can hold), with gaps in their seqs and run
 *   records among them, batched at any threshold and line size, read by
 *   `readJournal` and expanded as a load does, are the per-record lines'
 *   records, field for field;
 * - property: a journal cut at any byte inside a batch line (with or
 *   without a preallocated zero tail) reads as the records before it, and
 *   `JournalFile.open` cuts the line off;
 * - a `LowdbStore` append of a fan-out's records writes batch lines and a
 *   load replays them, beside a version 4 snapshot; a version 3 snapshot
 *   with per-record lines (what the base tree wrote) still loads (runs kept
 *   as folders, `layout: "folders"`, whose files these two read and write).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { graph, runAsync } from "../src/index.js";
import { BATCH_MIN, batchNodes, checkStoredRecord } from "../src/persistence/journal-batch.js";
import { eachRecord } from "../src/persistence/journal-delta.js";
import { JournalFile, journalText } from "../src/persistence/journal-file.js";
import { readJournal } from "../src/persistence/journal-reading.js";
import { journalLine } from "../src/persistence/journal-line.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { toChunks } from "../src/persistence/node-columns.js";
import { checkRecord } from "../src/persistence/snapshot-schema.js";
import { parseDocument } from "../src/persistence/stored-document.js";
import { nodeOf } from "../src/state/run-state.js";
import type { JournalRecord, NodeRecord } from "../src/state/records.js";
import { NODE_STATUSES } from "../src/state/status.js";
import { nodeRecord as nodeEntry, runRecord, sampleRun } from "./store-conformance.js";
import { tempStores } from "./support/temp-stores.js";

const { tempDir, lowdb } = tempStores("taskloom-journal-batch-");

const oddString = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: fc.constantFrom("\u0000", "\u001f", "\u2028", '"', "\\", "\n", "é", "a", "\ud800"), maxLength: 6 }),
);
const value = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      undefined,
      null,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      12345678901234567890n,
      new Date(7),
      new Map([["k", 1]]),
      new Set([1]),
    ),
  },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.integer(), fc.constant(undefined)), { maxKeys: 3 }) },
);
const time = fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.double({ noNaN: true }), fc.constantFrom(Number.POSITIVE_INFINITY, -0, undefined));
const error = fc
  .record({ name: oddString, message: oddString, code: fc.string(), stack: fc.string() }, { requiredKeys: ["name", "message"] })
  .map((e) => (e.code === "" ? { ...e, cause: { name: "Cause", message: "under" } } : e));

/** A node record of a valid shape: every optional field, any value where any is allowed. */
const valid = fc
  .record(
    {
      id: fc.oneof({ weight: 5, arbitrary: oddString }, { weight: 1, arbitrary: fc.constantFrom("a\nb", "\n", "") }),
      nodeId: fc.option(oddString, { nil: undefined }),
      status: fc.constantFrom(...NODE_STATUSES),
      attempts: fc.oneof(fc.nat(5), fc.constant(2 ** 40)),
      output: value,
      durable: fc.boolean(),
      error,
      startedAt: time,
      endedAt: time,
      retryAt: time,
      steps: fc.dictionary(fc.string({ maxLength: 3 }), value, { maxKeys: 2 }),
      visit: fc.nat(3),
      route: fc.string(),
      trigger: fc.record({ from: fc.string(), route: fc.string() }),
      waits: fc.dictionary(fc.string({ maxLength: 3 }), fc.record({ since: fc.nat(), deadline: fc.nat() }, { requiredKeys: ["since"] }), { maxKeys: 2 }),
      settleOrder: fc.nat(9),
      attemptLog: fc.array(
        fc.record(
          { startedAt: fc.nat(), endedAt: fc.nat(), outcome: fc.constantFrom("failed", "cancelled", "interrupted", "suspended"), error },
          {
            requiredKeys: ["startedAt", "outcome"],
          },
        ),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: ["id", "status", "attempts"] },
  )
  .map((r) => ({ ...r, nodeId: r.nodeId ?? r.id }));

/** A record a batch may not hold, or one only odd keys tell apart: unknown keys, `__proto__`, a bad status, no `nodeId`, odd attempts. */
const odd = fc
  .tuple(valid, fc.array(fc.tuple(fc.constantFrom("index", "0", "__proto__", 'a"b', "status", "attempts", "nodeId", "id"), value), { maxLength: 2 }))
  .map(([n, extra]) => {
    const node: Record<string, unknown> = { ...n };
    for (const [k, v] of extra) Object.defineProperty(node, k, { value: v, enumerable: true, writable: true, configurable: true });
    return node as unknown as NodeRecord;
  });

/** Records with seqs from `first`, a step of 2 now and then (a gap), a run record now and then. */
const journal = fc
  .tuple(
    fc.nat(1_000),
    fc.array(fc.tuple(fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: odd }), fc.integer({ min: 0, max: 30 })), { maxLength: 40 }),
  )
  .map(([first, items]) => {
    const records: JournalRecord[] = [];
    let seq = first;
    for (const [node, dice] of items) {
      seq += dice === 0 ? 2 : 1;
      if (dice === 1) records.push(runRecord(seq++, sampleRun("r").meta));
      records.push({ kind: "node", seq, node });
    }
    // Only what the per-record lines can be read as: a record whose own line the reader refuses is no journal's.
    return records.filter((r) => {
      try {
        return parseDocument(journalLine(r), checkRecord).ok;
      } catch {
        return false;
      }
    });
  });

/** The records a journal's text reads as, expanded as a load expands them (a batch line into its records). */
function readBack(dir: string, text: string | Buffer): JournalRecord[] {
  const file = join(dir, "journal.ndjson");
  writeFileSync(file, text);
  const out: JournalRecord[] = [];
  readJournal(file, (r) => eachRecord(r, (one) => void out.push(one as JournalRecord)));
  return out;
}

/** The batch lines of a journal's text. */
const batchLines = (text: string) => text.split("\n").filter((l) => l.includes('"batch":{'));

describe("batch journal lines", () => {
  it("read back as exactly the records of the per-record lines, whatever the records, threshold and line size", () => {
    const dir = tempDir();
    let withBatch = 0;
    fc.assert(
      fc.property(journal, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 9 }), (records, min, perLine) => {
        const plain = readBack(dir, journalText(records));
        expect(plain).toStrictEqual(records);
        const batched = batchNodes(records, min, perLine);
        const text = journalText(batched);
        expect(readBack(dir, text)).toStrictEqual(plain);
        // A batch line holds between `min` and `perLine` records, and the lines are one per stored record.
        for (const r of batched) {
          if (!("batch" in r)) continue;
          withBatch += 1;
          expect(r.batch.status.length).toBeGreaterThanOrEqual(min);
          expect(r.batch.status.length).toBeLessThanOrEqual(perLine);
        }
        expect(text.split("\n").length - 1).toBe(batched.length);
      }),
      { numRuns: 400 },
    );
    // The runs wrote batch lines, not just lines.
    expect(withBatch).toBeGreaterThan(200);
  });

  it("are made of every run of enough consecutive plain node records, and of nothing else", () => {
    const node = (i: number): NodeRecord => ({ id: `n${i}`, nodeId: `n${i}`, status: "succeeded", attempts: 1, output: i, startedAt: 5, endedAt: 6 });
    const run = Array.from({ length: 150 }, (_, i) => nodeEntry(i + 1, `n${i}`, node(i)));
    const meta = runRecord(151, sampleRun("r").meta);
    const batched = batchNodes([...run, meta], 64, 100);
    expect(batched.map((r) => ("batch" in r ? `batch:${r.seq}:${r.batch.status.length}` : r.seq))).toEqual([
      "batch:100:100",
      ...run.slice(100).map((r) => r.seq),
      151,
    ]);
    // A chain step's single record, a small group, a gap in the seqs: line by line, as before.
    const one = run.slice(0, 1);
    expect(batchNodes(one)).toBe(one);
    const small = run.slice(0, BATCH_MIN - 1);
    expect(batchNodes(small)).toBe(small);
    const gap = [...run.slice(0, 40), ...run.slice(41, 100)];
    expect(batchNodes(gap)).toBe(gap);
    expect(batchNodes(run).length).toBe(1);
  });

  it("torn anywhere read as none of their records, and are cut off before the next append", () => {
    const dir = tempDir();
    const node = (i: number): NodeRecord => ({
      id: `n${i}`,
      nodeId: `n${i}`,
      status: "succeeded",
      attempts: 1,
      output: { i, s: "é\n" },
      startedAt: i,
      endedAt: i + 1,
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 2, max: 20 }),
        fc.double({ min: 0, max: 1, maxExcluded: true }),
        fc.boolean(),
        (before, count, where, zeros) => {
          const head = Array.from({ length: before }, (_, i) => nodeEntry(i + 1, `h${i}`, node(i)));
          const tail = Array.from({ length: count }, (_, i) => nodeEntry(before + 1 + i, `n${i}`, node(i)));
          const headBytes = Buffer.from(journalText(head));
          const line = Buffer.from(journalText(batchNodes(tail, 2)));
          expect(batchLines(line.toString())).toHaveLength(1);
          // Any byte prefix of the batch line, its "\n" excluded (the line is then whole).
          const cut = Math.floor(where * line.length);
          const torn = Buffer.concat([headBytes, line.subarray(0, cut), zeros ? Buffer.alloc(64) : Buffer.alloc(0)]);
          expect(readBack(dir, torn)).toStrictEqual(head);
          const { journal, last } = JournalFile.open(join(dir, "journal.ndjson"), zeros);
          expect(journal.end).toBe(headBytes.length);
          expect(last?.seq).toBe(head.at(-1)?.seq);
          journal.close();
          // Whole, it reads as all of them.
          expect(readBack(dir, Buffer.concat([headBytes, line]))).toStrictEqual([...head, ...tail]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("are checked whole: a damaged batch is refused with its place", () => {
    const chunk = toChunks([{ id: "a", nodeId: "a", status: "succeeded", attempts: 1 }])[0]!;
    expect(checkStoredRecord({ kind: "node", seq: 3, batch: chunk })).toBeUndefined();
    expect(checkStoredRecord({ kind: "run", seq: 3, batch: chunk })).toMatch(/kind/);
    expect(checkStoredRecord({ kind: "node", seq: -1, batch: chunk })).toMatch(/seq/);
    expect(checkStoredRecord({ kind: "node", seq: 3, batch: { ...chunk, status: "sx" } })).toMatch(/^record\.batch\.status/);
    expect(checkStoredRecord({ kind: "node", seq: 3, batch: { ...chunk, id: [], status: "", attempts: [] } })).toBe("record.batch holds no records");
    const two = toChunks([
      { id: "a", nodeId: "a", status: "succeeded", attempts: 1 },
      { id: "b", nodeId: "b", status: "failed", attempts: 1 },
    ])[0]!;
    expect(checkStoredRecord({ kind: "node", seq: 0, batch: two })).toMatch(/cannot end/);
  });
});

/** The tests that read or rewrite a run's journal.ndjson and snapshot.json keep the run as a folder (`runs/<runId>/`). */
const FOLDERS = { layout: "folders" } as const;

describe("a LowdbStore", () => {
  it("writes an append of a fan-out's records as batch lines beside a version 4 snapshot, and loads them back", async () => {
    const dir = tempDir();
    const ids = ["a", ...Array.from({ length: 299 }, (_, i) => `n${i}`)];
    const store = lowdb(dir, FOLDERS);
    await store.writeSnapshot(sampleRun("r", { nodeIds: ids }), 0);
    const records = ids.map((id, i) =>
      nodeEntry(i + 1, id, {
        status: i % 7 === 0 ? "failed" : "succeeded",
        attempts: 1,
        output: i % 5 === 0 ? undefined : { i, at: new Date(i) },
        startedAt: 10 + i,
        endedAt: 20 + i,
      }),
    );
    await store.append("r", records);
    const journal = readFileSync(join(dir, "runs", "r", "journal.ndjson"), "utf8");
    expect(journal.split("\n").filter(Boolean)).toHaveLength(1);
    expect(batchLines(journal)).toHaveLength(1);
    expect((JSON.parse(readFileSync(join(dir, "runs", "r", "snapshot.json"), "utf8")) as { json: { version: number } }).json.version).toBe(4);
    const loaded = await new LowdbStore({ dir, ...FOLDERS }).load("r");
    expect(loaded?.seq).toBe(300);
    expect(loaded?.journalRecords).toBe(300);
    for (const r of records) expect(nodeOf(loaded!.state, r.kind === "node" ? r.node.id : "")).toStrictEqual((r as { node: NodeRecord }).node);
    // Appends after it go on from its seq.
    await store.append("r", [nodeEntry(301, "n0", { status: "succeeded", attempts: 2, output: "again" })]);
    expect(nodeOf((await new LowdbStore({ dir, ...FOLDERS }).load("r"))!.state, "n0").output).toBe("again");
  });

  it("loads a version 3 snapshot with per-record journal lines (what stores wrote before batch lines)", async () => {
    const dir = tempDir();
    const ids = ["a", ...Array.from({ length: 99 }, (_, i) => `n${i}`)];
    const store = lowdb(dir, FOLDERS);
    const state = sampleRun("r", { nodeIds: ids });
    await store.writeSnapshot(state, 0);
    const snapshot = join(dir, "runs", "r", "snapshot.json");
    const doc = JSON.parse(readFileSync(snapshot, "utf8")) as { json: { version: number } };
    doc.json.version = 3;
    writeFileSync(snapshot, JSON.stringify(doc));
    const records = ids.map((id, i) => nodeEntry(i + 1, id, { status: "succeeded", attempts: 1, output: i, startedAt: 1, endedAt: 2 }));
    writeFileSync(join(dir, "runs", "r", "journal.ndjson"), journalText(records));
    const loaded = await new LowdbStore({ dir, ...FOLDERS }).load("r");
    expect(loaded?.seq).toBe(100);
    expect(nodeOf(loaded!.state, "n98").output).toBe(99);
  });

  it("runs a 1,000-node fan-out (its groups of finished nodes appended as batch lines) and loads every result back", async () => {
    const dir = tempDir();
    type Loose = { node(id: string, fn: () => Promise<number>, o?: { after: string[] }): Loose; build(): unknown };
    let b = (graph("wide") as unknown as Loose).node("root", async () => 0);
    for (let i = 0; i < 1000; i++) b = b.node(`n${i}`, async () => i, { after: ["root"] });
    const g = b.build() as Parameters<typeof runAsync>[0];
    const store = lowdb(dir);
    await runAsync(g, undefined, { store, runId: "w" });
    const loaded = await new LowdbStore({ dir }).load("w");
    for (let i = 0; i < 1000; i++) expect(nodeOf(loaded!.state, `n${i}`)).toMatchObject({ status: "succeeded", output: i });
    expect(loaded!.state.meta.status).toBe("succeeded");
  });
});
