/**
 * The journal's zero tail (`journal-file.ts`): a `LowdbStore` with `fsync`
 * grows its journal ahead of the records with zero bytes, so that a flush
 * commits the bytes of an append and not a new file size. Checked here:
 * what readers make of a zero tail (and of what a power loss may leave
 * after its first zero), that the torn-tail cut and every reader agree on
 * where the records end, that journals written without preallocation
 * (every journal before it) load and take appends as before, that
 * compaction leaves a consistent file, and that stores with and without
 * `fsync` take turns on one folder (the stores keep runs as folders, whose
 * `journal.ndjson` these tests read: `layout: "folders"`). The store
 * conformance suite runs on a store with `fsync` too.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SnapshotCorruptError } from "../src/index.js";
import { grownSize, JournalFile, journalText, PREALLOCATE_BYTES } from "../src/persistence/journal-file.js";
import { readJournal } from "../src/persistence/journal-reading.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { serialize } from "../src/persistence/serialization.js";
import type { JournalRecord } from "../src/state/records.js";
import { nodeOf } from "../src/state/run-state.js";
import { describeRunStoreConformance, nodeRecord, sampleRun } from "./store-conformance.js";

const tempDir = () => mkdtemp(join(tmpdir(), "taskloom-journal-"));

describeRunStoreConformance("LowdbStore with fsync", async () => {
  const dir = await tempDir();
  return { store: new LowdbStore({ dir, fsync: true }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

const line = (r: JournalRecord) => `${serialize(r)}\n`;
const zeros = (n: number) => Buffer.alloc(n);
const text = (s: string) => Buffer.from(s, "utf8");
const fragment = '{"json":{"kind":"node","seq":9,"node":{"id":"c","nodeId":"c","sta';

function read(file: string): JournalRecord[] {
  const out: JournalRecord[] = [];
  readJournal(file, (r) => void out.push(r));
  return out;
}

describe("journal-file", () => {
  let root: string;
  let file: string;
  const r1 = nodeRecord(1, "b", { status: "succeeded", output: { rows: 1 } });
  const r2 = nodeRecord(2, "c");
  const r3 = nodeRecord(3, "c", { status: "succeeded", output: "C" });

  beforeEach(async () => {
    root = await tempDir();
    file = join(root, "journal.ndjson");
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe("reading a journal that ends in zero", () => {
    it("reads the records before the zeros", async () => {
      await writeFile(file, Buffer.concat([text(line(r1) + line(r2)), zeros(1000)]));
      expect(read(file)).toEqual([r1, r2]);
    });

    it("ignores a fragment before the zeros (an append torn by a crash)", async () => {
      await writeFile(file, Buffer.concat([text(line(r1) + fragment), zeros(100)]));
      expect(read(file)).toEqual([r1]);
    });

    it("ignores a bad last line before the zeros, as a torn append", async () => {
      await writeFile(file, Buffer.concat([text(`${line(r1)}${fragment}\n`), zeros(100)]));
      expect(read(file)).toEqual([r1]);
    });

    it("still refuses a bad line with a complete line after it, before the zeros", async () => {
      await writeFile(file, Buffer.concat([text(`${line(r1)}not json\n${line(r2)}`), zeros(100)]));
      expect(() => read(file)).toThrow(SnapshotCorruptError);
    });

    it("ignores what follows the first zero: the part of the append in flight that a power loss left", async () => {
      // The append of r2 and r3 reached the disk only in part: a later page, with zeros before it.
      const torn = line(r2) + line(r3);
      const bytes = Buffer.concat([text(line(r1)), zeros(10), text(torn.slice(10)), zeros(50)]);
      await writeFile(file, bytes);
      expect(read(file)).toEqual([r1]);
      // Opening it for appends cuts there too, so new records follow r1 and are read back.
      const { journal, last } = JournalFile.open(file, true);
      expect(journal.end).toBe(Buffer.byteLength(line(r1)));
      expect(last).toEqual(r1);
      journal.appendText(line(r3));
      journal.close();
      expect(read(file)).toEqual([r1, r3]);
    });

    it("reads an empty journal of zeros as empty", async () => {
      await writeFile(file, zeros(PREALLOCATE_BYTES));
      expect(read(file)).toEqual([]);
      const { journal, last } = JournalFile.open(file, false);
      expect([journal.end, last]).toEqual([0, undefined]);
      journal.close();
      expect((await stat(file)).size).toBe(0);
    });

    it("reads a zero byte inside a journal that does not end in zero as before: a bad line", async () => {
      const bad = `${line(r1).slice(0, 5)}\0${line(r1).slice(6)}`;
      await writeFile(file, `${bad}${line(r2)}`);
      expect(() => read(file)).toThrow(SnapshotCorruptError);
      await writeFile(file, `${line(r1)}${bad}`);
      expect(read(file)).toEqual([r1]);
    });
  });

  describe("a preallocating JournalFile", () => {
    /** Checks the file is preallocated: records then zeros, to a page boundary past them. */
    async function expectPreallocated(end: number) {
      const bytes = await readFile(file);
      expect(bytes.length % 4096).toBe(0);
      expect(bytes.length).toBeGreaterThan(end);
      expect(bytes.length).toBeLessThanOrEqual(end + 1 + PREALLOCATE_BYTES + 4096);
      expect(bytes.subarray(end).every((b) => b === 0)).toBe(true);
      expect(bytes.subarray(0, end).includes(0)).toBe(false);
    }

    it("grows ahead by as much as the journal holds, at least half a page, at most PREALLOCATE_BYTES, to a page boundary", () => {
      for (const [end, need] of [
        [0, 171],
        [0, 4096],
        [10_000, 10_171],
        [80_000, 80_171],
        [1 << 20, (1 << 20) + 171],
        [5 << 20, (5 << 20) + 300_000],
      ] as const) {
        const size = grownSize(end, need);
        const ahead = Math.min(PREALLOCATE_BYTES, Math.max(2048, end));
        expect(size % 4096).toBe(0);
        expect(size - need).toBeGreaterThanOrEqual(ahead);
        expect(size - need).toBeLessThan(ahead + 4096);
      }
      // A small journal's first record fits in one page with its zeros.
      expect(grownSize(0, 171)).toBe(4096);
    });

    it("grows few times along a chain: 6 growths (each a flush that commits a new size) for 1,000 records of 170 bytes", () => {
      let size = 0;
      let growths = 0;
      for (let end = 0; end < 1000 * 170; end += 170) {
        if (end + 171 <= size) continue;
        size = grownSize(end, end + 171);
        growths += 1;
      }
      expect(growths).toBeLessThanOrEqual(6);
    });

    it("grows the file with zeros ahead of its records, and always ends in zero", async () => {
      const { journal } = JournalFile.open(file, true);
      journal.appendText(line(r1));
      journal.flushSync();
      expect((await stat(file)).size).toBe(grownSize(0, journal.end + 1));
      await expectPreallocated(journal.end);
      // An append that does not fit (with one zero after it) grows the file first.
      const big = nodeRecord(2, "c", { status: "succeeded", output: "x".repeat(PREALLOCATE_BYTES) });
      const before = journal.end;
      journal.appendText(line(big));
      await journal.flush();
      expect((await stat(file)).size).toBe(grownSize(before, journal.end + 1));
      await expectPreallocated(journal.end);
      // Appends that fit do not grow it.
      const size = (await stat(file)).size;
      journal.appendText(line(r3));
      expect((await stat(file)).size).toBe(size);
      journal.close();
      expect(read(file)).toEqual([r1, big, r3]);
    });

    it("appends a string (appendText) byte for byte, multi-byte text included, the file grown as each append asks", async () => {
      const wide = nodeRecord(2, "c", { status: "succeeded", output: "é€😀".repeat(2000) });
      const appends: [string, boolean][] = [
        [line(r1), true],
        [line(wide), true],
        [line(r2) + line(r3), false],
      ];
      const { journal } = JournalFile.open(file, true);
      let written = "";
      let size = (await stat(file)).size;
      for (const [s, ahead] of appends) {
        const end = Buffer.byteLength(written);
        const need = end + Buffer.byteLength(s) + 1;
        if (need > size) size = ahead ? grownSize(end, need) : need;
        journal.appendText(s, ahead);
        written += s;
        expect(journal.end).toBe(Buffer.byteLength(written));
        expect((await stat(file)).size).toBe(size);
      }
      journal.close();
      const bytes = await readFile(file);
      expect(bytes.subarray(0, journal.end)).toEqual(Buffer.from(written, "utf8"));
      expect(bytes.subarray(journal.end).every((b) => b === 0)).toBe(true);
      expect(read(file)).toEqual([r1, wide, r2, r3]);
    });

    it("grows by just what an append needs, one zero byte after it, when not asked to grow ahead", async () => {
      const { journal } = JournalFile.open(file, true);
      journal.appendText(line(r1) + line(r2), false);
      expect((await stat(file)).size).toBe(journal.end + 1);
      // With room for the records but not the zero after them, an append grows ahead.
      const before = journal.end;
      journal.appendText(line(r3), true);
      expect((await stat(file)).size).toBe(grownSize(before, journal.end + 1));
      const big = nodeRecord(4, "c", { status: "succeeded", output: "x".repeat(PREALLOCATE_BYTES) });
      journal.appendText(line(big), false);
      expect((await stat(file)).size).toBe(journal.end + 1);
      journal.close();
      expect(read(file)).toEqual([r1, r2, r3, big]);
    });

    it("leaves one zero after records that end exactly at the end of the file", async () => {
      const { journal } = JournalFile.open(file, true);
      journal.appendText(line(r1));
      const size = (await stat(file)).size;
      const filler = nodeRecord(2, "c", { output: "" });
      const room = size - journal.end - Buffer.byteLength(line(filler));
      const exact = nodeRecord(2, "c", { output: "y".repeat(room) });
      expect(journal.end + Buffer.byteLength(line(exact))).toBe(size);
      journal.appendText(line(exact));
      journal.close();
      const bytes = await readFile(file);
      expect(bytes.length).toBeGreaterThan(size);
      expect(bytes.at(-1)).toBe(0);
      expect(read(file)).toEqual([r1, exact]);
    });

    it("empties to nothing and grows again", async () => {
      const { journal } = JournalFile.open(file, true);
      journal.appendText(line(r1));
      journal.empty();
      expect((await stat(file)).size).toBe(0);
      journal.appendText(line(r2));
      journal.close();
      await expectPreallocated(Buffer.byteLength(line(r2)));
      expect(read(file)).toEqual([r2]);
    });

    it("takes appends after a journal written without preallocation, torn tail cut", async () => {
      await writeFile(file, line(r1) + fragment);
      const { journal, last } = JournalFile.open(file, true);
      expect(last).toEqual(r1);
      journal.appendText(line(r2));
      journal.close();
      expect(read(file)).toEqual([r1, r2]);
      expect((await readFile(file)).toString()).not.toContain(fragment);
    });

    it("is cut back to its records by a journal opened without preallocation, which appends after them", async () => {
      const pre = JournalFile.open(file, true).journal;
      pre.appendText(line(r1));
      pre.close();
      const { journal, last } = JournalFile.open(file, false);
      expect(last).toEqual(r1);
      expect((await stat(file)).size).toBe(Buffer.byteLength(line(r1)));
      journal.appendText(line(r2));
      journal.close();
      expect((await readFile(file)).toString()).toBe(line(r1) + line(r2));
    });
  });

  describe("appendText", () => {
    it("writes texts byte for byte, non-ASCII and long ones too, and counts their bytes", async () => {
      // Non-ASCII of 2, 3 and 4 UTF-8 bytes; texts of about 16 KiB of UTF-8 and longer.
      const texts = ["a\n", "é日😀\n", `${"日".repeat(5_460)}\n`, `${"日".repeat(5_461)}\n`, `${"x".repeat(20_000)}\n`, "é\n"];
      const { journal } = JournalFile.open(file, false);
      let bytes = 0;
      for (const t of texts) {
        journal.appendText(t);
        bytes += Buffer.byteLength(t);
        expect(journal.end).toBe(bytes);
      }
      journal.close();
      expect((await readFile(file)).toString("utf8")).toBe(texts.join(""));
    });
  });
});

describe("LowdbStore with fsync on", () => {
  let dir: string;
  const journalOf = (runId: string) => join(dir, "runs", runId, "journal.ndjson");

  beforeEach(async () => {
    dir = join(await tempDir(), "store");
  });

  afterEach(async () => {
    await rm(resolve(dir, ".."), { recursive: true, force: true });
  });

  it("grows the journal by what an append of several records needs, and ahead for an append of one", async () => {
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    await store.writeSnapshot(sampleRun("r1"), 0);
    await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
    const several = Buffer.byteLength(journalText([nodeRecord(1, "b"), nodeRecord(2, "c")]));
    expect((await stat(journalOf("r1"))).size).toBe(several + 1);
    await store.append("r1", [nodeRecord(3, "c", { status: "succeeded", output: "C" })]);
    const three = several + Buffer.byteLength(line(nodeRecord(3, "c", { status: "succeeded", output: "C" })));
    expect((await stat(journalOf("r1"))).size).toBe(grownSize(several, three + 1));
    await store.close();
    expect((await new LowdbStore({ dir, layout: "folders" }).load("r1"))?.seq).toBe(3);
  });

  it("preallocates the journal, and loads what it appended", async () => {
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    await store.writeSnapshot(sampleRun("r1"), 0);
    await store.append("r1", [nodeRecord(1, "b")]);
    await store.append("r1", [nodeRecord(2, "c"), nodeRecord(3, "c", { status: "succeeded", output: "C" })]);
    const bytes = await readFile(journalOf("r1"));
    expect(bytes.length).toBe(grownSize(0, Buffer.byteLength(line(nodeRecord(1, "b"))) + 1));
    expect(bytes.at(-1)).toBe(0);
    await store.close();
    const loaded = await new LowdbStore({ dir, layout: "folders" }).load("r1");
    expect(loaded?.seq).toBe(3);
    expect(nodeOf(loaded!.state, "c")).toMatchObject({ status: "succeeded", output: "C" });
  });

  it("loads a journal written without preallocation (as before), and appends after it", async () => {
    const plain = new LowdbStore({ dir, layout: "folders" });
    await plain.writeSnapshot(sampleRun("r1"), 0);
    await plain.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
    await plain.close();
    const before = await readFile(journalOf("r1"), "utf8");
    expect(before).toBe(journalText([nodeRecord(1, "b"), nodeRecord(2, "c")]));

    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    expect((await store.load("r1"))?.seq).toBe(2);
    await store.append("r1", [nodeRecord(3, "c", { status: "succeeded", output: "C" })]);
    await store.close();
    const after = await new LowdbStore({ dir, layout: "folders" }).load("r1");
    expect(after?.seq).toBe(3);
    expect(nodeOf(after!.state, "c").status).toBe("succeeded");
  });

  it("takes turns with a store without fsync on one folder", async () => {
    const durable = new LowdbStore({ dir, fsync: true, layout: "folders" });
    await durable.writeSnapshot(sampleRun("r1"), 0);
    await durable.append("r1", [nodeRecord(1, "b")]);
    await durable.close();

    const plain = new LowdbStore({ dir, layout: "folders" });
    expect((await plain.load("r1"))?.seq).toBe(1);
    await plain.append("r1", [nodeRecord(2, "c")]);
    await plain.close();
    // The plain store cut the zero tail and appended after the records.
    expect(await readFile(journalOf("r1"), "utf8")).toBe(journalText([nodeRecord(1, "b"), nodeRecord(2, "c")]));

    const again = new LowdbStore({ dir, fsync: true, layout: "folders" });
    expect((await again.load("r1"))?.seq).toBe(2);
    await again.append("r1", [nodeRecord(3, "c", { status: "succeeded", output: "C" })]);
    await again.close();
    const two = Buffer.byteLength(journalText([nodeRecord(1, "b"), nodeRecord(2, "c")]));
    const three = two + Buffer.byteLength(line(nodeRecord(3, "c", { status: "succeeded", output: "C" })));
    expect((await stat(journalOf("r1"))).size).toBe(grownSize(two, three + 1));
    expect((await new LowdbStore({ dir, layout: "folders" }).load("r1"))?.seq).toBe(3);
  });

  it("empties a preallocated journal at compaction, and appends after it again", async () => {
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    await store.writeSnapshot(sampleRun("r1"), 0);
    await store.append("r1", [nodeRecord(1, "b"), nodeRecord(2, "c")]);
    const loaded = await store.load("r1");
    await store.writeSnapshot(loaded!.state, loaded!.seq);
    expect((await stat(journalOf("r1"))).size).toBe(0);
    await store.append("r1", [nodeRecord(3, "b", { status: "succeeded", output: 3 })]);
    expect((await readFile(journalOf("r1"))).subarray(0, Buffer.byteLength(line(nodeRecord(3, "b", { status: "succeeded", output: 3 })))).toString()).toBe(
      line(nodeRecord(3, "b", { status: "succeeded", output: 3 })),
    );
    expect((await store.load("r1"))?.seq).toBe(3);
    await store.close();
  });

  it("keeps the later records when a snapshot covers only part of a preallocated journal", async () => {
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    await store.writeSnapshot(sampleRun("r1"), 0);
    await store.append("r1", [nodeRecord(1, "b")]);
    await store.append("r1", [nodeRecord(2, "c")]);
    // A snapshot at seq 1 rewrites the journal with seq 2 only (a plain file, no zeros)...
    await store.writeSnapshot(sampleRun("r1"), 1);
    expect(await readFile(journalOf("r1"), "utf8")).toBe(line(nodeRecord(2, "c")));
    // ...which the next append preallocates again.
    await store.append("r1", [nodeRecord(3, "c", { status: "succeeded", output: "C" })]);
    const bytes = await readFile(journalOf("r1"));
    expect(bytes.length % 4096).toBe(0);
    expect(bytes.at(-1)).toBe(0);
    await store.close();
    const loaded = await new LowdbStore({ dir, layout: "folders" }).load("r1");
    expect(loaded?.seq).toBe(3);
    expect(nodeOf(loaded!.state, "c")).toMatchObject({ status: "succeeded", output: "C" });
  });

  it("cuts a torn append before the zeros off before the next append", async () => {
    const store = new LowdbStore({ dir, fsync: true, layout: "folders" });
    await store.writeSnapshot(sampleRun("r1"), 0);
    await store.append("r1", [nodeRecord(1, "b")]);
    await store.close();
    // A crash tore the next append: its first bytes are over the zeros.
    const bytes = await readFile(journalOf("r1"));
    const end = bytes.indexOf(0);
    bytes.write(fragment, end);
    await writeFile(journalOf("r1"), bytes);

    const restarted = new LowdbStore({ dir, fsync: true, layout: "folders" });
    expect((await restarted.load("r1"))?.seq).toBe(1);
    await restarted.append("r1", [nodeRecord(2, "c", { status: "succeeded", output: "C" })]);
    await restarted.close();
    const after = await readFile(journalOf("r1"));
    expect(after.subarray(0, after.indexOf(0)).toString()).toBe(journalText([nodeRecord(1, "b"), nodeRecord(2, "c", { status: "succeeded", output: "C" })]));
    expect(after.toString()).not.toContain(fragment);
    expect((await new LowdbStore({ dir, layout: "folders" }).load("r1"))?.seq).toBe(2);
  });
});
