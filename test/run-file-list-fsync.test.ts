/**
 * `list` of run files that end in zero bytes (written with `fsync`: grown
 * ahead of their lines, `journal-file.ts`). Their lines end at their first
 * zero byte (`journal-reading.ts`), which `validEnd` finds with a scan from
 * the file's start through one buffer kept for the process, 64 KiB at a
 * time; `list` then reads the lines backwards from there, as for any file.
 *
 * The reference is the rule as the reading before that buffer applied it:
 * a file whose last byte is zero reads as its bytes before its first zero
 * (`bytes.indexOf(0)`), that is as the file cut there, which holds no zero
 * and is read from its end alone. Every file built here (a store's real
 * lines cut anywhere, zero gaps anywhere, stray bytes after them, zero
 * tails of any length, zeros at and around the scan's 64 KiB boundaries)
 * must read, byte for byte, as its cut file: the same `validEnd`, the same
 * `summaryOfRunFile` or the same error, the same `writtenLease`, and a
 * folder of them the same `list` with the same problems.
 *
 * Why the scan starts at the file's start (the case "a big run's start
 * torn by a power loss"): a zero may be anywhere before the last line, and
 * only the first one counts, so no read of the end alone tells where the
 * lines end.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graph, runAsync, type RunSummary, type StoreProblem } from "../src/index.js";
import { validEnd } from "../src/persistence/journal-reading.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { writtenLease } from "../src/persistence/run-file-leases.js";
import { checkRunFileLine, lineKind, summaryLine } from "../src/persistence/run-file-lines.js";
import { summaryOfRunFile } from "../src/persistence/run-file-reading.js";
import { RunFileStore } from "../src/persistence/run-file-store.js";
import { summarize } from "../src/state/run-summary.js";
import { sampleRun } from "./store-conformance.js";
import { lineEnds, wholeLines, writeRunFile } from "./support/run-file-damage.js";

const SEED = Number(process.env.FUZZ_SEED ?? 4141);
const NUM_RUNS = Number(process.env.FUZZ_RUNS ?? 80);
/** The bytes the first-zero scan looks at a time (`journal-reading.ts`, `SCAN`). */
const SCAN = 64 * 1024;

const root = mkdtempSync(join(tmpdir(), "taskloom-list-fsync-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
/** A new empty folder under the test's root. */
function newDir(): string {
  const dir = join(root, `d${(folders += 1)}`);
  mkdirSync(dir);
  return dir;
}

/** The reference: what a run file of `bytes` reads as (one whose last byte is zero: its bytes before its first zero). */
function beforeFirstZero(bytes: Buffer): Buffer {
  return bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.subarray(0, bytes.indexOf(0)) : bytes;
}

/** What a read gave: its value, or the error it threw (its message with `path` replaced, since the two files' paths differ). */
type Outcome = { readonly value: unknown } | { readonly error: string; readonly message: string };

function outcome(path: string, read: () => unknown): Outcome {
  try {
    return { value: read() };
  } catch (err) {
    const e = err as Error;
    return { error: e.name, message: e.message.replaceAll(path, "<path>") };
  }
}

/** What the readers that find a run file's lines from its end make of `file` (of `size` bytes), run `runId`'s. */
function readings(file: string, size: number, runId: string): Record<"end" | "summary" | "lease", Outcome> {
  const fd = openSync(file, "r");
  try {
    return {
      end: outcome(file, () => validEnd(fd, size, checkRunFileLine)),
      summary: outcome(file, () => summaryOfRunFile(file, runId)),
      lease: outcome(file, () => writtenLease(file)),
    };
  } finally {
    closeSync(fd);
  }
}

/** What run `runId`'s file of `bytes` reads as, and what the reference (the file cut at its first zero) reads as. */
function readBoth(bytes: Buffer, runId: string): { got: ReturnType<typeof readings>; want: ReturnType<typeof readings> } {
  const dir = newDir();
  try {
    const file = join(dir, `${runId}.run`);
    const cutFile = join(dir, `${runId}.cut`);
    const cut = beforeFirstZero(bytes);
    writeFileSync(file, bytes);
    writeFileSync(cutFile, cut);
    return { got: readings(file, bytes.length, runId), want: readings(cutFile, cut.length, runId) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A store's listing of `dir`, with its problems (their messages with `dir` replaced). */
async function listing(dir: string): Promise<{ listed: RunSummary[]; problems: string[] }> {
  const problems: string[] = [];
  const store = new RunFileStore({ dir, fsync: true });
  try {
    const listed = await store.list({ onProblem: (p: StoreProblem) => problems.push(`${p.name}: ${p.message.replaceAll(dir, "<dir>")}`) });
    return { listed, problems };
  } finally {
    await store.close();
  }
}

/** The valid lines of a run file the store wrote with `fsync` (its bytes before the first zero). */
interface Lines {
  readonly runId: string;
  readonly bytes: Buffer;
}

let small: Lines;
let big: Lines;

beforeAll(async () => {
  for (const [runId, isBig] of [
    ["r1", false],
    ["r2", true],
  ] as const) {
    const fixture = await writeRunFile(newDir(), runId, { fsync: true, big: isBig });
    expect(fixture.bytes[fixture.bytes.length - 1]).toBe(0);
    const lines = { runId, bytes: fixture.bytes.subarray(0, fixture.bytes.indexOf(0)) };
    if (isBig) big = lines;
    else small = lines;
  }
  // Lines longer than the scan's buffer, so the first zero is looked for across several of its reads.
  expect(big.bytes.length).toBeGreaterThan(4 * SCAN);
});

// ---- damaged files, built ------------------------------------------------------------------------------------

/** A position in [0, 1), spread evenly (fast-check's default bias would pick the ends). */
const fraction = fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000);
const at = (where: number, n: number): number => Math.floor(where * (n + 1));

/** How a file of valid lines is damaged: cut, zero gaps in what is kept, stray bytes after a gap, a zero tail. */
const damage = fc.record({
  cut: fraction,
  /** Zero gaps inside the kept bytes, at a fraction of them; some longer than the scan's buffer. */
  gaps: fc.array(fc.record({ at: fraction, length: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: SCAN - 2, max: SCAN + 2 })) }), {
    maxLength: 3,
  }),
  /** One zero at or next to a boundary of the scan's reads (1, 2 or 3 times 64 KiB, -2 to +2). */
  boundary: fc.option(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: -2, max: 2 })), { nil: undefined }),
  /** After the cut: zeros, then the append's later bytes at their own offsets (`own`: a power loss kept them and not the ones before), or arbitrary bytes. */
  stray: fc.option(
    fc.record({
      gap: fc.integer({ min: 1, max: 600 }),
      own: fc.boolean(),
      bytes: fc.uint8Array({ maxLength: 300 }),
      length: fc.integer({ min: 0, max: 3000 }),
    }),
    { nil: undefined },
  ),
  /** The zero tail (0: none, so the file is read as it is). */
  tail: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 16 }), fc.integer({ min: SCAN - 3, max: SCAN + 3 }), fc.integer({ min: 1, max: 3 * SCAN })),
});

type Damage = typeof damage extends fc.Arbitrary<infer T> ? T : never;

/** The bytes of `lines` damaged as `d` says. */
function damaged(lines: Buffer, d: Damage): Buffer {
  const cut = Math.min(lines.length, at(d.cut, lines.length));
  const kept = Buffer.from(lines.subarray(0, cut));
  for (const gap of d.gaps) {
    const from = Math.min(kept.length, at(gap.at, kept.length));
    kept.fill(0, from, Math.min(kept.length, from + gap.length));
  }
  if (d.boundary !== undefined) {
    const [times, off] = d.boundary;
    if (times * SCAN + off < kept.length) kept[times * SCAN + off] = 0;
  }
  const parts: Buffer[] = [kept];
  if (d.stray !== undefined) {
    const from = cut + d.stray.gap;
    parts.push(Buffer.alloc(d.stray.gap));
    parts.push(d.stray.own ? lines.subarray(Math.min(from, lines.length), Math.min(from + d.stray.length, lines.length)) : Buffer.from(d.stray.bytes));
  }
  parts.push(Buffer.alloc(d.tail));
  return Buffer.concat(parts);
}

describe("run files that end in zeros read as their bytes before the first zero", () => {
  it(
    "validEnd, summaryOfRunFile and writtenLease: damaged files of a store's lines (small and big) read as the file cut at its first zero",
    { timeout: 120_000 },
    () => {
      fc.assert(
        fc.property(fc.boolean(), damage, (isBig, d) => {
          const { runId, bytes } = isBig ? big : small;
          const { got, want } = readBoth(damaged(bytes, d), runId);
          expect(got).toEqual(want);
        }),
        { seed: SEED, numRuns: NUM_RUNS },
      );
    },
  );

  it("list: a folder of damaged files lists as the folder of their cut files, problems included", { timeout: 120_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(damage, damage, async (d1, d2) => {
        const zeros = newDir();
        const cuts = newDir();
        try {
          for (const [{ runId, bytes }, d] of [
            [small, d1],
            [big, d2],
          ] as const) {
            const file = damaged(bytes, d);
            writeFileSync(join(zeros, `${runId}.run`), file);
            writeFileSync(join(cuts, `${runId}.run`), beforeFirstZero(file));
          }
          expect(await listing(zeros)).toEqual(await listing(cuts));
        } finally {
          rmSync(zeros, { recursive: true, force: true });
          rmSync(cuts, { recursive: true, force: true });
        }
      }),
      { seed: SEED + 1, numRuns: Math.ceil(NUM_RUNS / 2) },
    );
  });
});

// ---- hand-written cases ----------------------------------------------------------------------------------------

describe("list of run files written with fsync", () => {
  it("a LowdbStore's runs end in zeros and list as the same files cut at their first zero", async () => {
    const dir = newDir();
    let g = graph("fan").node("root", async () => 0);
    for (let i = 0; i < 300; i++) g = g.node(`n${i}`, async () => i, { after: ["root"] });
    const store = new LowdbStore({ dir, fsync: true });
    for (const runId of ["a", "b", "c"]) await runAsync(g.build(), undefined, { store, runId });
    const listed = await store.list();
    await store.close();
    const cuts = newDir();
    for (const runId of ["a", "b", "c"]) {
      const bytes = readFileSync(join(dir, `${runId}.run`));
      expect(bytes[bytes.length - 1]).toBe(0);
      writeFileSync(join(cuts, `${runId}.run`), beforeFirstZero(bytes));
    }
    expect(listed.map((s) => [s.runId, s.status, s.nodeCount, s.settledCount]).sort()).toEqual(["a", "b", "c"].map((runId) => [runId, "succeeded", 301, 301]));
    expect(await listing(dir)).toEqual(await listing(cuts));
  });

  it("a big run's start torn by a power loss (a page of its snapshot line still zeros, its summary line whole after it) is not listed, as load has no run", async () => {
    const dir = newDir();
    const store = new RunFileStore({ dir, fsync: true });
    const lease = await store.acquireLease("r1", { owner: "o1", pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() });
    const state = sampleRun("r1", { output: "x".repeat(5 * SCAN) });
    await store.writeSnapshot(state, 0, lease);
    const file = join(dir, "r1.run");
    const written = readFileSync(file);
    await store.close();
    // The start: lease, snapshot and summary lines, flushed together; one zero after them.
    const lines = wholeLines(written);
    expect(lines.map((l) => lineKind(l))).toEqual(["lease", "snapshot", "summary"]);
    expect(written.subarray(written.indexOf(0)).every((b) => b === 0)).toBe(true);
    const summaryAt = lineEnds(written)[1]!;
    expect(written.subarray(summaryAt, written.indexOf(0)).toString("utf8")).toBe(summaryLine(summarize(state)));

    // A power loss kept the summary's page and not the third page of the snapshot line.
    const torn = Buffer.from(written);
    torn.fill(0, 3 * 4096, 4 * 4096);
    expect(3 * 4096).toBeGreaterThan(lineEnds(written)[0]!);
    expect(4 * 4096).toBeLessThan(summaryAt);
    writeFileSync(file, torn);
    const after = new RunFileStore({ dir, fsync: true });
    const problems: unknown[] = [];
    // Read from its end alone, the file would list the run from its whole summary line; its lines end at the first zero.
    expect(await after.list({ onProblem: (p) => problems.push(p) })).toEqual([]);
    expect(problems).toEqual([]);
    expect(await after.load("r1")).toBeUndefined();
    await after.close();
    const { got, want } = readBoth(torn, "r1");
    expect(got).toEqual(want);
    expect(got.summary).toEqual({ value: undefined });
  });

  it("the first zero at and around the scan's 64 KiB boundaries: the lines end at the last whole line before it", () => {
    const ends = lineEnds(big.bytes);
    for (const times of [1, 2, 3, 4]) {
      for (const off of [-2, -1, 0, 1, 2]) {
        const zero = times * SCAN + off;
        const bytes = Buffer.concat([big.bytes, Buffer.alloc(100)]);
        bytes[zero] = 0;
        const { got, want } = readBoth(bytes, big.runId);
        expect(got).toEqual(want);
        const lastWhole = ends.filter((e) => e <= zero).at(-1) ?? 0;
        // The line before the first zero is whole and valid, so the lines end just after it.
        expect((got.end as { value: { end: number } }).value.end).toBe(lastWhole);
      }
    }
  });

  it("zero tails longer than the scan's buffer, and files of zeros only", async () => {
    for (const tail of [1, SCAN - 1, SCAN, SCAN + 1, 3 * SCAN + 7]) {
      const { got, want } = readBoth(Buffer.concat([small.bytes, Buffer.alloc(tail)]), small.runId);
      expect(got).toEqual(want);
      expect((got.summary as { value: RunSummary | undefined }).value?.runId).toBe(small.runId);
    }
    for (const size of [1, 2, SCAN, 2 * SCAN + 1]) {
      const dir = newDir();
      writeFileSync(join(dir, "r1.run"), Buffer.alloc(size));
      expect(await listing(dir)).toEqual({ listed: [], problems: [] });
    }
  });
});
