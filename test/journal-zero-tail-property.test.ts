/**
 * Property test of the journal's end (`journal-file.ts`), over the bytes a
 * crash may leave: fast-check makes a random sequence of records, cuts
 * their text at a random byte (the end of what reached the disk, maybe in
 * the middle of a record), and then either ends the file there (a journal
 * written without preallocation) or adds zero padding, then random bytes
 * (the part of an append in flight that a power loss left after a gap, or
 * plain junk) and a zero tail (a preallocated journal). Checked:
 *
 * - reading gives exactly the complete records before the cut;
 * - opening the journal for appends (with and without preallocation) cuts
 *   it there too, and a record appended then is read back right after
 *   them, with nothing of what followed the cut;
 * - `LowdbStore.load` replays exactly those records (runs kept as folders,
 *   `layout: "folders"`: the journal written is `runs/r1/journal.ndjson`).
 *
 * Seeded (FUZZ_SEED to replay a failure, FUZZ_RUNS for a longer hunt).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JournalFile, journalText } from "../src/persistence/journal-file.js";
import { readJournal } from "../src/persistence/journal-reading.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { serialize } from "../src/persistence/serialization.js";
import type { JournalRecord } from "../src/state/records.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";

const SEED = Number(process.env.FUZZ_SEED ?? 1616);
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const IDS = ["a", "b", "c", "d"] as const;

/** A user value, with text that JSON escapes (a zero character among them) and text that UTF-8 makes several bytes of. */
const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom("\u0000", "a\u0000b", "\n", "é€😀", ""));

/** Records with seq 1, 2, 3…: node records, running or succeeded with a value. */
const records = fc
  .array(
    fc.record({
      id: fc.constantFrom(...IDS),
      done: fc.boolean(),
      output: value,
    }),
    { minLength: 0, maxLength: 12 },
  )
  .map((specs) => specs.map((s, i): JournalRecord => nodeRecord(i + 1, s.id, s.done ? { status: "succeeded", output: s.output, endedAt: 5_000 + i } : {})));

/** What follows the cut, in a preallocated journal; or nothing (a journal written without preallocation). */
const after = fc.option(
  fc.record({
    gap: fc.integer({ min: 1, max: 600 }),
    /** The in-flight append's later bytes at their own offsets (`true`), or arbitrary bytes. */
    own: fc.boolean(),
    stray: fc.uint8Array({ maxLength: 300 }),
    strayLength: fc.integer({ min: 0, max: 300 }),
    tail: fc.integer({ min: 1, max: 600 }),
  }),
  { nil: undefined },
);

/** A position in [0, 1], spread evenly. */
const fraction = fc.noBias(fc.integer({ min: 0, max: 1_000_000 })).map((n) => n / 1_000_000);

type After = NonNullable<typeof after extends fc.Arbitrary<infer A> ? A : never>;

/** The file a crash left: `full` cut at `cut`, then what `tail` says. */
function crashed(full: Buffer, cut: number, tail: After | undefined): Buffer {
  const kept = full.subarray(0, cut);
  if (tail === undefined) return Buffer.from(kept);
  const from = cut + tail.gap;
  const stray = tail.own ? full.subarray(Math.min(from, full.length), Math.min(from + tail.strayLength, full.length)) : Buffer.from(tail.stray);
  return Buffer.concat([kept, Buffer.alloc(tail.gap), stray, Buffer.alloc(tail.tail)]);
}

/** The records whose whole line (with its "\n") is among the first `cut` bytes of their text. */
function completeBefore(all: readonly JournalRecord[], cut: number): JournalRecord[] {
  const out: JournalRecord[] = [];
  let end = 0;
  for (const r of all) {
    end += Buffer.byteLength(`${serialize(r)}\n`);
    if (end > cut) break;
    out.push(r);
  }
  return out;
}

const asText = (rs: readonly JournalRecord[]) => rs.map((r) => serialize(r));

function read(file: string): JournalRecord[] {
  const out: JournalRecord[] = [];
  readJournal(file, (r) => void out.push(r));
  return out;
}

let root: string;
let cases = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "taskloom-zero-tail-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("a journal cut anywhere, with or without zero padding and stray bytes after it, reads as exactly its complete records before the cut", () => {
  it("readJournal, and JournalFile.open's cut before an append", { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(records, fraction, after, fc.boolean(), async (all, at, tail, preallocate) => {
        const full = Buffer.from(journalText(all));
        const cut = Math.floor(at * full.length);
        const file = join(root, `journal-${++cases}.ndjson`);
        await writeFile(file, crashed(full, cut, tail));
        const expected = completeBefore(all, cut);
        try {
          expect(asText(read(file))).toEqual(asText(expected));

          const { journal, last } = JournalFile.open(file, preallocate);
          expect(journal.end).toBe(Buffer.byteLength(journalText(expected)));
          expect(last === undefined ? undefined : serialize(last)).toEqual(expected.length === 0 ? undefined : serialize(expected.at(-1)!));
          const next = nodeRecord(100, "z", { status: "succeeded", output: "next" });
          journal.appendText(journalText([next]));
          journal.close();
          expect(asText(read(file))).toEqual(asText([...expected, next]));
          const bytes = await readFile(file);
          const records = bytes.subarray(0, preallocate ? bytes.indexOf(0) : bytes.length);
          expect(records.toString("utf8")).toBe(journalText([...expected, next]));
          if (preallocate) expect(bytes.subarray(records.length).every((b) => b === 0)).toBe(true);
        } finally {
          await rm(file, { force: true });
        }
      }),
      { seed: SEED, numRuns: NUM_RUNS },
    );
  });

  it("LowdbStore.load", { timeout: 120_000 }, async () => {
    const template = join(root, "template");
    const seed = new LowdbStore({ dir: template, layout: "folders" });
    await seed.writeSnapshot(sampleRun("r1", { nodeIds: [...IDS, "z"] }), 0);
    await seed.close();
    await fc.assert(
      fc.asyncProperty(records, fraction, after, async (all, at, tail) => {
        const full = Buffer.from(journalText(all));
        const cut = Math.floor(at * full.length);
        const dir = join(root, `store-${++cases}`);
        const reference = join(root, `reference-${cases}`);
        try {
          for (const [d, bytes] of [
            [dir, crashed(full, cut, tail)],
            [reference, Buffer.from(journalText(completeBefore(all, cut)))],
          ] as const) {
            const store = new LowdbStore({ dir: d, layout: "folders" });
            await store.writeSnapshot(sampleRun("r1", { nodeIds: [...IDS, "z"] }), 0);
            await store.close();
            await writeFile(join(d, "runs", "r1", "journal.ndjson"), bytes);
          }
          const got = await new LowdbStore({ dir, layout: "folders" }).load("r1");
          const want = await new LowdbStore({ dir: reference, layout: "folders" }).load("r1");
          expect(got?.seq).toBe(want?.seq);
          expect(got?.state).toEqual(want?.state);
        } finally {
          await rm(dir, { recursive: true, force: true });
          await rm(reference, { recursive: true, force: true });
        }
      }),
      { seed: SEED + 1, numRuns: Math.ceil(NUM_RUNS / 3) },
    );
  });
});
