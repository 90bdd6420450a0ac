/**
 * Damaged and unusual run files of `RunFileStore` (`<dir>/<runId>.run`),
 * read and written by fresh store objects, as `test/store-fuzz.test.ts`
 * does for `LowdbStore`'s folders. Every outcome must be the documented
 * one (`journal-file.ts`, `run-file-lines.ts`, `run-file-store.ts`):
 *
 * 1. a file cut at any byte (a torn tail) loads as its whole lines make
 *    it, or as absent before its snapshot line is whole; `list` agrees
 *    with `load`; a new store object writes after the cut (the torn tail
 *    cut off) and the run loads with its write;
 * 2. damage before valid lines (byte flips, junk lines, a line duplicated,
 *    two lines swapped): `load` throws `SnapshotCorruptError` naming the
 *    file, or gives exactly what the lines say (`referenceRead`); `list`
 *    reports through `onProblem` and lists the other runs; a read never
 *    changes the file;
 * 3. preallocated files (`fsync: true`): zero tails, and zeros in the
 *    middle of the last append, read as the records before the first zero;
 * 4. `lineKind` and `isRunRecordLine` against arbitrary bytes and real
 *    lines;
 * 5. files the store must refuse (`UnsafeStoreFileError`, nothing written
 *    through them): a symbolic link, another user's file, a second hard
 *    link, a claim file that is a link;
 * 6. node outputs of any durable value round-trip.
 *
 * Seeded (FUZZ_SEED to replay a failure, FUZZ_RUNS for a longer hunt) and
 * small by default, so the file takes seconds.
 */
import { chown, link, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isDurable,
  MemoryStore,
  SnapshotCorruptError,
  UnsafeStoreFileError,
  type JournalRecord,
  type Lease,
  type NodeCounts,
  type RunState,
  type RunSummary,
  type StoredRun,
} from "../src/index.js";
import { RunFileStore } from "../src/persistence/run-file-store.js";
import { batchNodes } from "../src/persistence/journal-batch.js";
import { journalText } from "../src/persistence/journal-file.js";
import { journalLine } from "../src/persistence/journal-line.js";
import { parseDocument } from "../src/persistence/stored-document.js";
import {
  checkRunFileLine,
  countsLine,
  isRunRecordLine,
  leaseLine,
  lineKind,
  releaseLine,
  summaryLine,
  type OwnKind,
} from "../src/persistence/run-file-lines.js";
import { summarize } from "../src/state/run-summary.js";
import { flat, nodeRecord, runRecord, sampleRun } from "./store-conformance.js";
import {
  leaseOf,
  lineEnds,
  prefixModel,
  referenceRead,
  wholeLines,
  writeRunFile,
  type PrefixExpectation,
  type Reference,
  type RunFileFixture,
} from "./support/run-file-damage.js";

const SEED = Number(process.env.FUZZ_SEED ?? 2525);
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const OTHER_UID = 12_345;
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

let root: string;
let cases = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "taskloom-runfile-fuzz-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A new, empty folder under the test's root. */
async function newDir(): Promise<string> {
  const dir = join(root, `case-${++cases}`);
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** Writes run `r2` in `dir`, the run `list` must list whatever happens to `r1`; its summary. */
async function otherRun(dir: string): Promise<RunSummary> {
  const store = new RunFileStore({ dir });
  await store.writeSnapshot(sampleRun("r2", { now: 500 }), 0);
  await store.append("r2", [nodeRecord(1, "b", { status: "succeeded", output: "B", endedAt: 600 })]);
  await store.close();
  const summary = (await store.list()).find((s) => s.runId === "r2");
  if (summary === undefined) throw new Error("r2 is not listed");
  return summary;
}

async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

function expectCorruptNaming(error: unknown, file: string): void {
  expect(error, String(error)).toBeInstanceOf(SnapshotCorruptError);
  expect((error as SnapshotCorruptError).file).toBe(file);
}

function expectUnsafe(error: unknown, file: string): void {
  expect(error, String(error)).toBeInstanceOf(UnsafeStoreFileError);
  expect((error as UnsafeStoreFileError).code).toBe("UNSAFE_STORE_FILE");
  expect((error as UnsafeStoreFileError).file).toBe(file);
}

/** `got` is the run `want` says (its seq, meta and every node record), or absent when `want` is. */
function expectRun(got: StoredRun | undefined, want: { state: RunState; seq: number } | undefined, what: string): void {
  if (want === undefined) {
    expect(got, `${what}: no run expected`).toBeUndefined();
    return;
  }
  expect(got, `${what}: the run is missing`).toBeDefined();
  expect(got!.seq, what).toBe(want.seq);
  const [mine, wanted] = [flat(got!.state), flat(want.state)];
  // isDeepStrictEqual first: a tenth of toEqual's time, which the test at every byte feels; toEqual for its diff.
  if (!isDeepStrictEqual(mine, wanted)) expect(mine, what).toEqual(wanted);
}

/** What `list` gives, split: the run `runId`'s summaries, the others', and the problems reported. */
async function listOf(store: RunFileStore, runId: string): Promise<{ mine: RunSummary[]; others: RunSummary[]; problems: unknown[] }> {
  const problems: unknown[] = [];
  const listed = await store.list({ onProblem: (p) => problems.push(p) });
  return { mine: listed.filter((s) => s.runId === runId), others: listed.filter((s) => s.runId !== runId), problems };
}

/** The offset after the last whole line among the first `cut` bytes. */
function wholeEnd(ends: readonly number[], cut: number): number {
  let end = 0;
  for (const e of ends) if (e <= cut) end = e;
  return end;
}

/** A position in [0, 1), spread evenly (fast-check's default bias would pick the ends). */
const fraction = fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000);
const pick = (at: number, n: number): number => Math.min(n - 1, Math.floor(at * n));

// ---- 1. torn tails -------------------------------------------------------------------------------------------

describe("a run file cut at any byte (a torn tail after a crash)", () => {
  let fixture: RunFileFixture;
  let big: RunFileFixture;

  beforeAll(async () => {
    fixture = await writeRunFile(await newDir(), "r1");
    big = await writeRunFile(await newDir(), "r1", { big: true });
  });

  it("the fixture holds every kind of line, a batch line among them", () => {
    const kinds = wholeLines(fixture.bytes).map((l) => {
      const doc = (JSON.parse(l.toString("utf8")) as { json: { kind: string; batch?: unknown } }).json;
      return doc.batch !== undefined ? "batch" : doc.kind;
    });
    expect(kinds).toEqual(["lease", "snapshot", "summary", "node", "node", "batch", "node", "run", "counts", "lease", "node", "node", "release"]);
    expect(big.bytes.length).toBeGreaterThan(3 * 150_000);
  });

  /**
   * Checks load and list of `f` cut at `cut`, in `dir` (where run r2 is `other`), against the model. With
   * `shorten`, the file holds a longer prefix of `f` and is cut in place (`truncate`: ext4 flushes a file
   * rewritten from empty on close, which made this test several times slower).
   */
  async function checkCut(
    dir: string,
    f: RunFileFixture,
    cut: number,
    model: PrefixExpectation & { lease?: Lease | undefined },
    other: RunSummary,
    shorten = false,
  ): Promise<void> {
    const file = join(dir, "r1.run");
    const bytes = f.bytes.subarray(0, cut);
    if (shorten) truncateSync(file, cut);
    else writeFileSync(file, bytes);
    const store = new RunFileStore({ dir });
    const got = await settle(store.load("r1"));
    if (!got.ok) throw new Error(`cut at ${cut}: load threw`, { cause: got.error });
    expectRun(got.value, model.loaded, `cut at ${cut}`);
    const { mine, others, problems } = await listOf(store, "r1");
    expect(problems, `cut at ${cut}`).toEqual([]);
    expect(others, `cut at ${cut}`).toEqual([other]);
    expect(mine, `cut at ${cut}: list agrees with load`).toEqual(model.summary === undefined ? [] : [model.summary]);
    expect(await store.readLease("r1"), `cut at ${cut}: the lease`).toEqual("lease" in model ? model.lease : leaseOf(bytes).held);
    expect(readFileSync(file).equals(bytes), `cut at ${cut}: a read changed the file`).toBe(true);
  }

  it("at every byte: load never throws and gives what the whole lines make; list agrees; reads change nothing", { timeout: 60_000 }, async () => {
    const dir = await newDir();
    const other = await otherRun(dir);
    const ends = lineEnds(fixture.bytes);
    const models = new Map<number, PrefixExpectation & { lease: Lease | undefined }>();
    writeFileSync(join(dir, "r1.run"), fixture.bytes);
    for (let cut = fixture.bytes.length; cut >= 0; cut--) {
      const end = wholeEnd(ends, cut);
      let model = models.get(end);
      if (model === undefined) models.set(end, (model = { ...(await prefixModel(fixture, end)), lease: leaseOf(fixture.bytes.subarray(0, end)).held }));
      await checkCut(dir, fixture, cut, model, other, true);
    }
    expect(models.size).toBe(ends.length + 1);
  });

  it("lines longer than list's backwards chunk (64 KiB): cuts that fast-check picks", { timeout: 60_000 }, async () => {
    const dir = await newDir();
    const other = await otherRun(dir);
    const ends = lineEnds(big.bytes);
    // Each whole-line end, a byte either side of it, and offsets fast-check picks.
    const cuts = new Set<number>([big.bytes.length]);
    for (const e of ends) for (const d of [-1, 0, 1]) if (e + d >= 0 && e + d <= big.bytes.length) cuts.add(e + d);
    for (const cut of cuts) await checkCut(dir, big, cut, await prefixModel(big, wholeEnd(ends, cut)), other);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: big.bytes.length }), async (cut) => {
        await checkCut(dir, big, cut, await prefixModel(big, wholeEnd(ends, cut)), other);
      }),
      { seed: SEED, numRuns: Math.ceil(NUM_RUNS / 2) },
    );
  });

  it("a crash between the snapshot line and its summary line (two writes): list lists the run load reads, before and after a new append", async () => {
    const dir = await newDir();
    const store = new RunFileStore({ dir });
    const state = sampleRun("r1");
    await store.writeSnapshot(state, 0);
    await store.close();
    const file = join(dir, "r1.run");
    const bytes = await readFile(file);
    // What a SIGKILL after the snapshot's "\n" was written, and before the summary line was, leaves.
    await writeFile(file, bytes.subarray(0, lineEnds(bytes)[0]));
    const fresh = new RunFileStore({ dir });
    expectRun(await fresh.load("r1"), { state, seq: 0 }, "the snapshot alone");
    expect((await listOf(fresh, "r1")).mine).toEqual([summarize(state)]);
    await fresh.append("r1", [runRecord(1, { ...state.meta, status: "failed", updatedAt: 5_000 })]);
    await fresh.close();
    expect((await new RunFileStore({ dir }).load("r1"))?.state.meta.status).toBe("failed");
    expect((await listOf(new RunFileStore({ dir }), "r1")).mine.map((s) => s.status)).toEqual(["failed"]);
  });

  it("a new store object writes after any cut: the torn tail is cut off, and the run loads with the new lines", { timeout: 60_000 }, async () => {
    const ends = lineEnds(fixture.bytes);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: fixture.bytes.length }), fc.boolean(), async (cut, fsync) => {
        const dir = await newDir();
        const file = join(dir, "r1.run");
        await writeFile(file, fixture.bytes.subarray(0, cut));
        const end = wholeEnd(ends, cut);
        const model = await prefixModel(fixture, end);
        const writer = new RunFileStore({ dir, fsync });
        try {
          let memory = model.memory;
          if (memory === undefined) {
            // No whole snapshot: the run is absent, and a snapshot written now starts it.
            const fresh = sampleRun("r1", { nodeIds: ["a", "e"], now: 7_000, output: new Map([[1n, "\n"]]) });
            await writer.writeSnapshot(fresh, 3);
            memory = new MemoryStore();
            await memory.writeSnapshot(fresh, 3);
          }
          const loaded = (await memory.load("r1"))!;
          const next: JournalRecord[] = [
            nodeRecord(loaded.seq + 1, "e", { status: "succeeded", output: { at: new Date(9), s: "a\u0000b" }, endedAt: 9_900 }),
            runRecord(loaded.seq + 2, { ...loaded.state.meta, status: "succeeded", updatedAt: 9_950 }),
          ];
          const counts: NodeCounts = { nodeCount: 9, settledCount: 9, succeededCount: 9, failedCount: 0 };
          await writer.append("r1", next, undefined, counts);
          await memory.append("r1", next, undefined, counts);
          await writer.close();

          const after = await readFile(file);
          const records = after[after.length - 1] === 0 ? after.subarray(0, after.indexOf(0)) : after;
          if (model.memory !== undefined) {
            // The whole lines before the cut, then the new ones: nothing of the torn tail.
            expect(records.subarray(0, end).equals(fixture.bytes.subarray(0, end))).toBe(true);
            expect(records.subarray(end).toString("utf8")).toBe(journalText(next) + countsLine(counts));
          }
          if (fsync) expect(after.subarray(records.length).every((b) => b === 0)).toBe(true);
          expectRun(await new RunFileStore({ dir }).load("r1"), await memory.load("r1"), `cut at ${cut}, then an append`);
          expect((await listOf(new RunFileStore({ dir }), "r1")).mine).toEqual(await memory.list());

          // A compaction by yet another store object keeps it.
          const again = (await new RunFileStore({ dir }).load("r1"))!;
          const compactor = new RunFileStore({ dir, fsync });
          await compactor.writeSnapshot(again.state, again.seq);
          await compactor.close();
          await memory.writeSnapshot(again.state, again.seq);
          expectRun(await new RunFileStore({ dir }).load("r1"), await memory.load("r1"), `cut at ${cut}, then a compaction`);
          expect((await listOf(new RunFileStore({ dir }), "r1")).mine).toEqual(await memory.list());
        } finally {
          await writer.close();
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { seed: SEED + 1, numRuns: NUM_RUNS },
    );
  });

  it("a takeover after any cut copies the whole lines into the new file, and its holder writes on", { timeout: 60_000 }, async () => {
    const ends = lineEnds(fixture.bytes);
    await fc.assert(
      // From 1: an empty file is a run being started, which a takeover waits for (LOCK_STALE_MS).
      fc.asyncProperty(fc.integer({ min: 1, max: fixture.bytes.length }), async (cut) => {
        const dir = await newDir();
        const file = join(dir, "r1.run");
        const bytes = fixture.bytes.subarray(0, cut);
        await writeFile(file, bytes);
        const model = await prefixModel(fixture, wholeEnd(ends, cut));
        const taker = new RunFileStore({ dir });
        try {
          const lease = await taker.acquireLease("r1", { owner: "o2", pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now(), takeover: true });
          expect(lease.token).toBe(leaseOf(bytes).top + 1);
          expect(await new RunFileStore({ dir }).readLease("r1")).toEqual(lease);
          expectRun(await new RunFileStore({ dir }).load("r1"), model.loaded, `cut at ${cut}, taken over`);
          expect((await listOf(new RunFileStore({ dir }), "r1")).mine).toEqual(model.summary === undefined ? [] : [model.summary]);

          let memory = model.memory;
          if (memory === undefined) {
            const fresh = sampleRun("r1", { nodeIds: ["a", "e"] });
            await taker.writeSnapshot(fresh, 0, lease);
            memory = new MemoryStore();
            await memory.writeSnapshot(fresh, 0);
          }
          const next = [nodeRecord(900, "e", { status: "succeeded", output: new Set(["E"]), endedAt: 9_000 })];
          await taker.append("r1", next, lease);
          await memory.append("r1", next);
          await taker.releaseLease(lease);
          expectRun(await new RunFileStore({ dir }).load("r1"), await memory.load("r1"), `cut at ${cut}, taken over, then an append`);
          expect(await new RunFileStore({ dir }).readLease("r1")).toBeUndefined();
        } finally {
          await taker.close();
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { seed: SEED + 7, numRuns: Math.ceil(NUM_RUNS / 3) },
    );
  });
});

// ---- 2. damage before valid lines ---------------------------------------------------------------------------

const junkLine = fc.oneof(
  fc.string(),
  fc.json(),
  fc.constantFrom(
    "",
    "{}",
    "null",
    '{"json":null}',
    '{"json":[]}',
    '{"json":{"kind":"lease"}}',
    '{"json":{"kind":"release","owner":"o1"}}',
    '{"json":{"kind":"release","owner":"o9","token":7}}',
    '{"json":{"kind":"summary","summary":{}}}',
    '{"json":{"kind":"counts","counts":{"nodeCount":-1,"settledCount":0}}}',
    '{"json":{"kind":"counts","counts":{"nodeCount":1,"settledCount":1}}}',
    '{"json":{"kind":"snapshot","version":4}}',
    '{"json":{"kind":"node","seq":1}}',
    '{"json":{"kind":"node","seq":9,"node":{"id":"b"}}}',
    '{"json":{"kind":"node","seq":9,"reset":"zz"}}',
    '{"json":{"kind":"run","seq":99,"run":{"runId":"r1"}}}',
    '{"json":{"kind":"run","seq":99,"run":{"runId":"other"}}}',
    '{"json":{"kind":"run",',
    '{"json":{"kind":"summary"',
    '{"json":1,"meta":{"values":["Date"]}}',
    '{"json":{"a":1},"meta":{"values":{"a":["map"]}}}',
    '{"json":{"__proto__":{"polluted":true}}}',
  ),
);

const damage = fc.oneof(
  fc.record({
    kind: fc.constant("flip" as const),
    flips: fc.array(fc.record({ at: fraction, byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant("junk" as const), at: fraction, line: junkLine }),
  fc.record({ kind: fc.constant("duplicate" as const), line: fraction, at: fraction }),
  fc.record({ kind: fc.constant("swap" as const), a: fraction, b: fraction }),
);
type Damage = typeof damage extends fc.Arbitrary<infer D> ? D : never;

/** `bytes` (whole lines) with `d`: flips and junk before the last line, so a whole, valid line always follows them. */
function damaged(bytes: Buffer, d: Damage): Buffer {
  const lines = wholeLines(bytes).map((l) => Buffer.concat([l, Buffer.from("\n")]));
  switch (d.kind) {
    case "flip": {
      const out = Buffer.from(bytes);
      const before = bytes.length - lines.at(-1)!.length;
      for (const f of d.flips) out[pick(f.at, before)] = f.byte;
      return out;
    }
    case "junk": {
      lines.splice(pick(d.at, lines.length), 0, Buffer.from(`${d.line.replace(/\n/g, " ")}\n`));
      return Buffer.concat(lines);
    }
    case "duplicate": {
      const line = lines[pick(d.line, lines.length)]!;
      lines.splice(pick(d.at, lines.length + 1), 0, line);
      return Buffer.concat(lines);
    }
    case "swap": {
      const a = pick(d.a, lines.length);
      const b = pick(d.b, lines.length);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return Buffer.concat(lines);
    }
  }
}

describe("damage before valid lines: SnapshotCorruptError naming the file, or exactly what the lines say", () => {
  let fixture: RunFileFixture;
  let dir: string;
  let other: RunSummary;

  beforeAll(async () => {
    fixture = await writeRunFile(await newDir(), "r1");
    dir = await newDir();
    other = await otherRun(dir);
  });

  /** Reads `bytes` as r1's file in `dir`; what the reference read of them is. */
  async function check(bytes: Buffer, what: string): Promise<Reference> {
    const file = join(dir, "r1.run");
    writeFileSync(file, bytes);
    const reference = referenceRead(bytes, "r1");
    const store = new RunFileStore({ dir });
    const got = await settle(store.load("r1"));
    if (reference.kind === "corrupt") {
      expect(got.ok, `${what}: load should refuse it`).toBe(false);
      if (!got.ok) expectCorruptNaming(got.error, file);
    } else {
      if (!got.ok) throw new Error(`${what}: load threw where the lines make ${reference.kind === "absent" ? "no run" : "a run"}`, { cause: got.error });
      expectRun(got.value, reference.kind === "absent" ? undefined : reference, what);
    }

    const { mine, others, problems } = await listOf(store, "r1");
    expect(others, what).toEqual([other]);
    for (const p of problems) expectCorruptNaming(p, file);
    expect(mine.length + problems.length, `${what}: listed ${mine.length}, problems ${problems.length}`).toBeLessThanOrEqual(1);
    // A run load reads, list lists (or reports: it reads the file from its end, and may meet the damage first).
    if (reference.kind === "run") expect(mine.length + problems.length, `${what}: list lost the run`).toBe(1);
    // The lease is read from the file's end too: a lease, none, or the damage reported, never another error.
    const lease = await settle(store.readLease("r1"));
    if (!lease.ok) expectCorruptNaming(lease.error, file);
    expect(readFileSync(file).equals(bytes), `${what}: a read changed the file`).toBe(true);
    return reference;
  }

  it("fast-check damage", { timeout: 60_000 }, async () => {
    const seen = { corrupt: 0, absent: 0, run: 0 };
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        const reference = await check(damaged(fixture.bytes, d), JSON.stringify(d));
        seen[reference.kind] += 1;
      }),
      { seed: SEED + 2, numRuns: NUM_RUNS * 4 },
    );
    // The damage reaches both outcomes.
    expect(seen.corrupt).toBeGreaterThan(0);
    expect(seen.run).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a whole bad line at the very end is ignored (a torn append), and the next writer cuts it off", { timeout: 60_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(junkLine, async (junk) => {
        const line = Buffer.from(`${junk.replace(/\n/g, " ")}\n`);
        const bytes = Buffer.concat([fixture.bytes, line]);
        const valid = parseDocument(line.subarray(0, -1).toString("utf8"), checkRunFileLine).ok;
        await check(bytes, `junk ${JSON.stringify(junk)} last`);
        const next = [nodeRecord(900, "e", { status: "succeeded", output: "E", endedAt: 9_000 })];
        const writer = new RunFileStore({ dir });
        await writer.append("r1", next);
        await writer.close();
        const after = await readFile(join(dir, "r1.run"));
        expect(after.toString("utf8")).toBe((valid ? bytes : fixture.bytes).toString("utf8") + journalText(next));
        // A bad line is gone: the run with the new record. A valid one (a lease line, a record…) stays, and counts as it says.
        const reference = await check(after, `junk ${JSON.stringify(junk)}, then an append`);
        if (!valid) expect(reference.kind).toBe("run");
      }),
      { seed: SEED + 8, numRuns: NUM_RUNS },
    );
  });

  it("a run record broken after its first bytes, a summary line broken, a counts line broken: load refuses; list reports it and lists the other run", async () => {
    const lines = wholeLines(fixture.bytes).map((l) => l.toString("utf8"));
    for (const kind of ['{"json":{"kind":"run",', '{"json":{"kind":"summary",', '{"json":{"kind":"counts",']) {
      const i = lines.findIndex((l) => l.startsWith(kind));
      const broken = lines.map((l, j) => (j === i ? l.slice(0, l.length - 3) : l)).join("\n") + "\n";
      const file = join(dir, "r1.run");
      expect((await check(Buffer.from(broken), kind)).kind).toBe("corrupt");
      const { mine, problems } = await listOf(new RunFileStore({ dir }), "r1");
      expect(mine, kind).toEqual([]);
      expect(problems).toHaveLength(1);
      expectCorruptNaming(problems[0], file);
    }
  });

  it("a summary line whose kind is damaged, records after it: load refuses; list lists or reports the run, never drops it silently", async () => {
    const text = fixture.bytes.toString("utf8").replace('{"json":{"kind":"summary"', '{"json":{"kind":"summarx"');
    const file = join(dir, "r1.run");
    expect((await check(Buffer.from(text), "summarx")).kind).toBe("corrupt");
    const { mine, problems } = await listOf(new RunFileStore({ dir }), "r1");
    for (const p of problems) expectCorruptNaming(p, file);
    expect(mine.length + problems.length, "the run is neither listed nor reported").toBe(1);
  });

  it("a line duplicated in place reads as the undamaged run", async () => {
    const lines = wholeLines(fixture.bytes).map((l) => l.toString("utf8"));
    for (let i = 0; i < lines.length; i++) {
      const twice = [...lines.slice(0, i + 1), lines[i]!, ...lines.slice(i + 1)].join("\n") + "\n";
      const reference = await check(Buffer.from(twice), `line ${i + 1} twice`);
      // Every line is idempotent in place: the run is the undamaged one.
      expect(reference.kind).toBe("run");
    }
  });
});

// ---- 3. preallocated files --------------------------------------------------------------------------------

describe("preallocated run files (fsync: true): a zero tail, and zeros inside the last append", () => {
  let fixture: RunFileFixture;
  let records: Buffer;

  beforeAll(async () => {
    fixture = await writeRunFile(await newDir(), "r1", { fsync: true });
    records = fixture.bytes.subarray(0, fixture.bytes.indexOf(0));
  });

  it("the file ends in zeros, and reads as the same run as one written without fsync", async () => {
    expect(fixture.bytes[fixture.bytes.length - 1]).toBe(0);
    expect(fixture.bytes.subarray(records.length).every((b) => b === 0)).toBe(true);
    const plain = await writeRunFile(await newDir(), "r1");
    expect(wholeLines(records).length).toBe(wholeLines(plain.bytes).length);
    const model = await prefixModel(fixture, records.length);
    const store = new RunFileStore({ dir: join(fixture.file, "..") });
    expectRun(await store.load("r1"), model.loaded, "preallocated");
    expect((await listOf(store, "r1")).mine).toEqual([model.summary]);
  });

  const after = fc.record({
    gap: fc.integer({ min: 1, max: 600 }),
    /** The append's later bytes at their own offsets (`true`: a power loss kept them and not the ones before), or arbitrary bytes. */
    own: fc.boolean(),
    stray: fc.uint8Array({ maxLength: 300 }),
    strayLength: fc.integer({ min: 0, max: 3000 }),
    tail: fc.integer({ min: 1, max: 600 }),
  });

  it(
    "cut anywhere, then zeros, stray bytes and a zero tail: reads as the whole lines before the first zero; a new fsync store writes on",
    { timeout: 60_000 },
    async () => {
      const ends = lineEnds(records);
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: records.length }), after, async (cut, tail) => {
          const dir = await newDir();
          const other = await otherRun(dir);
          const file = join(dir, "r1.run");
          const from = cut + tail.gap;
          const stray = tail.own
            ? records.subarray(Math.min(from, records.length), Math.min(from + tail.strayLength, records.length))
            : Buffer.from(tail.stray);
          const bytes = Buffer.concat([records.subarray(0, cut), Buffer.alloc(tail.gap), stray, Buffer.alloc(tail.tail)]);
          await writeFile(file, bytes);
          const model = await prefixModel(fixture, wholeEnd(ends, cut));
          try {
            const store = new RunFileStore({ dir, fsync: true });
            expectRun(await store.load("r1"), model.loaded, `cut at ${cut}`);
            const { mine, others, problems } = await listOf(store, "r1");
            expect(problems).toEqual([]);
            expect(others).toEqual([other]);
            expect(mine).toEqual(model.summary === undefined ? [] : [model.summary]);
            expect(readFileSync(file).equals(bytes)).toBe(true);

            const next = [nodeRecord(900, "e", { status: "succeeded", output: "E", endedAt: 9_000 })];
            let memory = model.memory;
            if (memory === undefined) {
              const fresh = sampleRun("r1", { nodeIds: ["a", "e"] });
              await store.writeSnapshot(fresh, 0);
              memory = new MemoryStore();
              await memory.writeSnapshot(fresh, 0);
            }
            await store.append("r1", next);
            await memory.append("r1", next);
            await store.close();
            const written = await readFile(file);
            expect(written[written.length - 1]).toBe(0);
            const kept = written.subarray(0, written.indexOf(0));
            expect(kept.toString("utf8").endsWith(journalText(next))).toBe(true);
            // Nothing of the stray bytes is left after the records.
            expect(written.subarray(kept.length).every((b) => b === 0)).toBe(true);
            expectRun(await new RunFileStore({ dir }).load("r1"), await memory.load("r1"), `cut at ${cut}, then an append`);
            expect((await listOf(new RunFileStore({ dir }), "r1")).mine).toEqual(await memory.list());
          } finally {
            await rm(dir, { recursive: true, force: true });
          }
        }),
        { seed: SEED + 3, numRuns: NUM_RUNS },
      );
    },
  );

  it("zeros in the middle of the last append (its later lines whole on the disk): none of it after the first zero counts", async () => {
    // The last append of many lines: a node record, a batch line of 64, a run record and its counts, in one write.
    const dir = await newDir();
    const store = new RunFileStore({ dir, fsync: true });
    const state = sampleRun("r1", { nodeIds: ["a", "b"] });
    await store.writeSnapshot(state, 0);
    await store.append("r1", [nodeRecord(1, "b")]);
    const last = [
      nodeRecord(2, "b", { status: "succeeded", output: 2, endedAt: 3_000 }),
      // From seq 4: a gap after seq 2, so the batch line holds these 64 and the record above stays a line of its own.
      ...Array.from({ length: 64 }, (_, i) => nodeRecord(4 + i, `f#${i}`, { nodeId: "f", status: "succeeded", output: i, endedAt: 3_000 })),
      runRecord(68, { ...state.meta, status: "succeeded", updatedAt: 4_000 }),
    ];
    const counts: NodeCounts = { nodeCount: 66, settledCount: 66, succeededCount: 66, failedCount: 0 };
    const beforeLast = (await readFile(join(dir, "r1.run"))).indexOf(0);
    await store.append("r1", last, undefined, counts);
    await store.close();
    const full = await readFile(join(dir, "r1.run"));
    const end = full.indexOf(0);
    const text = journalText(batchNodes(last)) + countsLine(counts);
    expect(full.subarray(beforeLast, end).toString("utf8")).toBe(text);
    const appendEnds = lineEnds(full.subarray(beforeLast, end)).map((e) => beforeLast + e);
    expect(appendEnds).toHaveLength(4);

    const memoryBefore = new MemoryStore();
    await memoryBefore.writeSnapshot(state, 0);
    await memoryBefore.append("r1", [nodeRecord(1, "b")]);
    const memoryOne = new MemoryStore();
    await memoryOne.writeSnapshot(state, 0);
    await memoryOne.append("r1", [nodeRecord(1, "b"), last[0]!]);
    // Zeros from inside each of its lines (and at its very start) to inside the next: the lines after them are whole.
    const holes: [number, number, MemoryStore][] = [
      [beforeLast, appendEnds[0]! + 5, memoryBefore],
      [beforeLast + 3, appendEnds[1]! + 5, memoryBefore],
      [appendEnds[0]! + 10, appendEnds[1]! - 10, memoryOne],
      [appendEnds[0]! + 1, appendEnds[2]! + 1, memoryOne],
      [appendEnds[1]! - 1, appendEnds[1]!, memoryOne],
    ];
    for (const [from, to, memory] of holes) {
      const bytes = Buffer.from(full);
      bytes.fill(0, from, to);
      await writeFile(join(dir, "r1.run"), bytes);
      const fresh = new RunFileStore({ dir });
      expectRun(await fresh.load("r1"), await memory.load("r1"), `zeros at [${from}, ${to})`);
      expect((await listOf(fresh, "r1")).mine).toEqual(await memory.list());
    }
  });
});

// ---- 4. telling lines by their first bytes ------------------------------------------------------------------

describe("lineKind and isRunRecordLine", () => {
  const OWN: readonly OwnKind[] = ["lease", "release", "snapshot", "summary", "counts"];
  const prefixes = [...OWN.map((k) => `{"json":{"kind":"${k}"`), '{"json":{"kind":"run",', '{"json":{"kind":"node",', '{"json":{"kind":"'];

  /** What the two say of `bytes` by their definition: the prefix of their kind, byte for byte. */
  function expected(bytes: Uint8Array): { kind: OwnKind | undefined; run: boolean } {
    const text = Buffer.from(bytes).toString("latin1");
    return { kind: OWN.find((k) => text.startsWith(`{"json":{"kind":"${k}"`)), run: text.startsWith('{"json":{"kind":"run",') };
  }

  /** Bytes near a prefix: a prefix cut, with a byte changed, or with anything after it. */
  const nearPrefix = fc
    .tuple(
      fc.constantFrom(...prefixes),
      fc.nat(30),
      fc.option(fc.tuple(fc.nat(30), fc.integer({ min: 0, max: 255 })), { nil: undefined }),
      fc.uint8Array({ maxLength: 20 }),
    )
    .map(([prefix, cut, change, rest]) => {
      const bytes = Buffer.concat([Buffer.from(prefix, "latin1").subarray(0, Math.max(cut, prefix.length - 8)), Buffer.from(rest)]);
      if (change !== undefined && bytes.length > 0) bytes[change[0] % bytes.length] = change[1];
      return new Uint8Array(bytes);
    });
  const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 40 }), nearPrefix);
  /** The bytes as a view into a bigger buffer, at an offset (as a line read from a file chunk is). */
  const placed = fc.tuple(anyBytes, fc.nat(16), fc.uint8Array({ maxLength: 16 }), fc.boolean()).map(([bytes, offset, after, asBuffer]) => {
    const backing = new Uint8Array(offset + bytes.length + after.length);
    backing.fill(0x7b, 0, offset);
    backing.set(bytes, offset);
    backing.set(after, offset + bytes.length);
    const view = backing.subarray(offset, offset + bytes.length);
    return asBuffer ? Buffer.from(view.buffer, view.byteOffset, view.length) : view;
  });

  it("arbitrary bytes: never throw, and say a kind exactly when the bytes start with its prefix", () => {
    fc.assert(
      fc.property(placed, (bytes) => {
        const want = expected(bytes);
        expect(lineKind(bytes)).toBe(want.kind);
        expect(isRunRecordLine(bytes)).toBe(want.run);
      }),
      { seed: SEED + 4, numRuns: 2_000 },
    );
  });

  const text = fc.oneof(fc.string({ unit: "binary", maxLength: 12 }), fc.constantFrom('"', "\n", "\u0000", '{"json":{"kind":"run",', "é€😀"));
  const lease = fc.record({
    runId: text,
    owner: text,
    pid: fc.nat(),
    host: text,
    expiresAt: fc.nat(),
    token: fc.integer({ min: 1, max: 1_000 }),
  }) as fc.Arbitrary<Lease>;
  const counts = fc.record({ nodeCount: fc.nat(), settledCount: fc.nat(), succeededCount: fc.nat(), failedCount: fc.nat() });
  const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), text, fc.date({ noInvalidDate: true }), fc.bigInt(), fc.constant(undefined));
  const node = fc
    .tuple(fc.nat(1_000), text, fc.constantFrom("running", "succeeded", "failed", "skipped", "pending"), value)
    .map(([seq, id, status, output]) => nodeRecord(seq, id, { status: status as "running", output }));
  const meta = fc.tuple(text, value).map(([runId, inputs]) => ({ ...sampleRun("r").meta, runId, inputs }));

  /** Real lines of every kind, without their "\n", and the kind each is. */
  const line = fc.oneof(
    lease.map((l) => ({ text: leaseLine(l), kind: "lease" as const, run: false })),
    lease.map((l) => ({ text: releaseLine(l), kind: "release" as const, run: false })),
    counts.map((c) => ({ text: countsLine(c), kind: "counts" as const, run: false })),
    meta.map((m) => ({ text: summaryLine(summarize({ ...sampleRun("r"), meta: m })), kind: "summary" as const, run: false })),
    node.map((r) => ({ text: journalLine(r), kind: undefined, run: false })),
    meta.map((m) => ({ text: journalLine(runRecord(7, m)), kind: undefined, run: true })),
    // Compact records (journal-delta.ts): a reset, a line of resets, a node record with the same attempt log.
    fc.tuple(fc.nat(1_000), text).map(([seq, id]) => ({ text: journalLine({ kind: "node", seq, reset: id }), kind: undefined, run: false })),
    fc.array(text, { minLength: 2, maxLength: 4 }).map((ids) => ({ text: journalLine({ kind: "node", seq: 9, resets: ids }), kind: undefined, run: false })),
    node.map((r) => ({ text: journalLine({ ...(r as Extract<JournalRecord, { kind: "node" }>), sameLog: true }), kind: undefined, run: false })),
    fc.array(node, { minLength: 64, maxLength: 70 }).map((rs) => ({
      text: journalText(batchNodes(rs.map((r, i) => ({ ...r, seq: i + 1 })))),
      kind: undefined,
      run: false,
    })),
  );

  it("real lines: each of its kind, a run record a run record, and nothing else", () => {
    fc.assert(
      fc.property(line, fc.nat(8), ({ text, kind, run }, offset) => {
        // Every line of the text (a batch may make more than one), read from a buffer at an offset.
        const bytes = Buffer.concat([Buffer.alloc(offset, 0x0a), Buffer.from(text)]);
        const lines = wholeLines(bytes.subarray(offset));
        expect(lines.length).toBeGreaterThan(0);
        for (const l of lines) {
          expect(lineKind(l)).toBe(kind);
          expect(isRunRecordLine(l)).toBe(run);
        }
      }),
      { seed: SEED + 5, numRuns: 400 },
    );
  });

  it("every line of a run file the store wrote", async () => {
    const fixture = await writeRunFile(await newDir(), "r1", { batch: 64 });
    const kinds = wholeLines(fixture.bytes).map((l) => [lineKind(l), isRunRecordLine(l)]);
    expect(kinds).toEqual([
      ["lease", false],
      ["snapshot", false],
      ["summary", false],
      [undefined, false],
      [undefined, false],
      [undefined, false],
      [undefined, false],
      [undefined, true],
      ["counts", false],
      ["lease", false],
      [undefined, false],
      [undefined, false],
      ["release", false],
    ]);
  });
});

// ---- 5. files the store must refuse ---------------------------------------------------------------------------

describe("run files the store must refuse: UnsafeStoreFileError, nothing read or written through them", () => {
  const request = (owner: string) => ({ owner, pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() });

  /** A store folder with run r2, a run file of r1 kept elsewhere (`victim`), and what it holds. */
  async function setup() {
    const dir = await newDir();
    const other = await otherRun(dir);
    const elsewhere = await newDir();
    const fixture = await writeRunFile(elsewhere, "r1");
    const victim = fixture.file;
    const file = join(dir, "r1.run");
    const victimState = async () => ({ bytes: await readFile(victim), mode: (await stat(victim)).mode, uid: (await stat(victim)).uid });
    return { dir, other, victim, file, victimState, fixture };
  }

  /** Every call of a fresh store on run r1 is refused naming `named`; list reports it and lists r2. */
  async function expectAllRefused(dir: string, named: string, other: RunSummary): Promise<void> {
    const fresh = () => new RunFileStore({ dir });
    const calls: [string, () => Promise<unknown>][] = [
      ["load", () => fresh().load("r1")],
      ["append", () => fresh().append("r1", [nodeRecord(500, "b")])],
      ["writeSnapshot", () => fresh().writeSnapshot(sampleRun("r1"), 0)],
      ["acquireLease", () => fresh().acquireLease("r1", request("o2"))],
      ["readLease", () => fresh().readLease("r1")],
      ["requestCancel", () => fresh().requestCancel("r1", { token: 1, reason: "x", at: 1 })],
      ["delete", () => fresh().delete("r1")],
    ];
    for (const [what, call] of calls) {
      const got = await settle(call());
      expect(got.ok, `${what} went through`).toBe(false);
      if (!got.ok) expectUnsafe(got.error, named);
    }
    const { mine, others, problems } = await listOf(fresh(), "r1");
    expect(mine).toEqual([]);
    expect(others).toEqual([other]);
    expect(problems).toHaveLength(1);
    expectUnsafe(problems[0], named);
  }

  it("the run file as a symbolic link to a valid run file", async () => {
    const { dir, other, victim, file, victimState } = await setup();
    await symlink(victim, file);
    const before = await victimState();
    await expectAllRefused(dir, file, other);
    expect(await victimState()).toEqual(before);
  });

  it("the run file as a dangling symbolic link: nothing is made where it points", async () => {
    const { dir, file } = await setup();
    const target = join(dir, "..", `nowhere-${cases}`);
    await symlink(target, file);
    const store = new RunFileStore({ dir });
    expectUnsafe(((await settle(store.writeSnapshot(sampleRun("r1"), 0))) as { error: unknown }).error, file);
    expectUnsafe(((await settle(new RunFileStore({ dir }).acquireLease("r1", request("o2")))) as { error: unknown }).error, file);
    await expect(stat(target)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("the run file with a second hard link", async () => {
    const { dir, other, victim, file, victimState } = await setup();
    await link(victim, file);
    const before = await victimState();
    await expectAllRefused(dir, file, other);
    expect(await victimState()).toEqual(before);
  });

  it("a FIFO as the run file is refused at once (the open does not block)", async () => {
    const { dir, other, file } = await setup();
    execFileSync("mkfifo", [file]);
    expectUnsafe(((await settle(new RunFileStore({ dir }).load("r1"))) as { error: unknown }).error, file);
    const { mine, others, problems } = await listOf(new RunFileStore({ dir }), "r1");
    expect([mine, others]).toEqual([[], [other]]);
    expectUnsafe(problems[0], file);
  });

  it.skipIf(!isRoot)(`the run file owned by uid ${OTHER_UID} (root plants it with chown)`, async () => {
    const { dir, other, file, fixture } = await setup();
    await writeFile(file, fixture.bytes, { mode: 0o644 });
    await chown(file, OTHER_UID, OTHER_UID);
    const before = { bytes: await readFile(file), mode: (await stat(file)).mode };
    await expectAllRefused(dir, file, other);
    expect({ bytes: await readFile(file), mode: (await stat(file)).mode }).toEqual(before);
  });

  it("the claim file as a symbolic link: a takeover, a cancel, a non-holder's release and the holder's next look refuse it", async () => {
    const dir = await newDir();
    const victim = join(await newDir(), "victim.txt");
    await writeFile(victim, "precious\n", { mode: 0o644 });
    const holder = new RunFileStore({ dir });
    const lease = await holder.acquireLease("r1", { ...request("o1"), ttlMs: 1 });
    await holder.writeSnapshot(sampleRun("r1"), 0, lease);
    const claim = join(dir, "r1.run.claim");
    await symlink(victim, claim);
    const run = join(dir, "r1.run");
    const runBefore = await readFile(run);

    // The lease expired (ttl 1 ms): another owner may take the run over, but the claim is refused.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expectUnsafe(((await settle(new RunFileStore({ dir }).acquireLease("r1", request("o2")))) as { error: unknown }).error, claim);
    expectUnsafe(((await settle(new RunFileStore({ dir }).readLease("r1"))) as { error: unknown }).error, claim);
    expectUnsafe(
      ((await settle(new RunFileStore({ dir }).requestCancel("r1", { token: lease.token, reason: "x", at: 1 }))) as { error: unknown }).error,
      claim,
    );
    expectUnsafe(((await settle(new RunFileStore({ dir }).releaseLease(lease))) as { error: unknown }).error, claim);
    // The holder looks at the claim before a renewal: refused, nothing appended.
    expectUnsafe(((await settle(holder.renewLease(lease, 60_000, Date.now()))) as { error: unknown }).error, claim);
    await holder.close();

    expect(await readFile(victim, "utf8")).toBe("precious\n");
    expect((await stat(victim)).mode & 0o777).toBe(0o644);
    expect(await readFile(run)).toEqual(runBefore);
    const { mine } = await listOf(new RunFileStore({ dir }), "r1");
    expect(mine.map((s) => s.runId)).toEqual(["r1"]);
  });
});

// ---- 6. values round-trip -------------------------------------------------------------------------------------

describe("node outputs of any durable value round-trip through a run file", () => {
  const oddText = fc.oneof(
    fc.string({ unit: "binary", maxLength: 12 }),
    fc.string({ unit: fc.constantFrom("\n", "\r", "\u0000", "\u2028", "\ud800", "é", "€", "😀", '"', "\\", "{", "a"), maxLength: 10 }),
    fc.constantFrom("\n", "\u0000", "a\nb", '{"json":{"kind":"run",', '"}\n{"json":{"kind":"lease"', "x".repeat(70_000)),
  );
  const leaf = fc.oneof(oddText, fc.double(), fc.integer(), fc.bigInt(), fc.boolean(), fc.constantFrom(null, undefined), fc.date());
  const anything = fc.anything({
    key: fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom("__proto__", "constructor", "json", "meta", "a.b", "")),
    values: [leaf],
    maxDepth: 3,
    maxKeys: 4,
    withMap: true,
    withSet: true,
    withBigInt: true,
    withDate: true,
    withNullPrototype: true,
    withSparseArray: true,
    withObjectString: true,
  });
  const durableValue = fc.oneof(leaf, anything).filter((v) => isDurable(v));

  it("appended one at a time, in a batch line, in the snapshot and after a compaction, loaded by a fresh store", { timeout: 60_000 }, async () => {
    const dir = await newDir();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(durableValue, fc.boolean(), async (v, fsync) => {
        const runId = `v${++n}`;
        const store = new RunFileStore({ dir, fsync });
        // In an object: sampleRun takes a nullish output for none. The appended records hold `v` itself.
        const state = sampleRun(runId, { nodeIds: ["a", "b"], output: { v }, inputs: v });
        await store.writeSnapshot(state, 0);
        await store.append(runId, [nodeRecord(1, "b", { status: "succeeded", output: v, steps: { s: v }, endedAt: 3_000 })]);
        const batch = Array.from({ length: 64 }, (_, i) =>
          nodeRecord(2 + i, `m#${i}`, { nodeId: "m", status: "succeeded", output: i === 7 ? v : i, endedAt: 3_000 }),
        );
        await store.append(runId, batch);
        await store.append(runId, [runRecord(66, { ...state.meta, status: "succeeded", inputs: v })]);
        await store.close();
        const check = async (what: string) => {
          const loaded = (await new RunFileStore({ dir }).load(runId))!;
          const nodes = new Map(flat(loaded.state).nodes.map((r) => [r.id, r]));
          expect(isDeepStrictEqual(nodes.get("a")!.output, { v }), `${what}: the snapshot's output`).toBe(true);
          expect(isDeepStrictEqual(nodes.get("b")!.output, v), `${what}: an appended output`).toBe(true);
          expect(isDeepStrictEqual(nodes.get("b")!.steps, { s: v }), `${what}: an appended step`).toBe(true);
          expect(isDeepStrictEqual(nodes.get("m#7")!.output, v), `${what}: an output in a batch`).toBe(true);
          expect(isDeepStrictEqual(loaded.state.meta.inputs, v), `${what}: a run record's inputs`).toBe(true);
          expect(loaded.seq).toBe(66);
          return loaded;
        };
        const loaded = await check("appended");
        // A compaction writes the snapshot anew (in pieces), with the records above its seq copied.
        const compactor = new RunFileStore({ dir, fsync });
        await compactor.writeSnapshot({ ...loaded.state, meta: { ...loaded.state.meta, inputs: v } }, 1);
        await compactor.close();
        await check("compacted");
        const listed = (await new RunFileStore({ dir }).list()).find((s) => s.runId === runId);
        expect(listed?.status).toBe("succeeded");
        await rm(join(dir, `${runId}.run`));
      }),
      { seed: SEED + 6, numRuns: NUM_RUNS },
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
