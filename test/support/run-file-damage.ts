/**
 * Run files (`RunFileStore`, `<dir>/<runId>.run`) written by the store for
 * the fuzz tests of `test/run-file-fuzz.test.ts`, and what a reader must
 * make of them once damaged:
 *
 * - {@link writeRunFile} drives a store through a run's life (lease,
 *   snapshot, appends with a batch line and a run record with counts, a
 *   renewal, the lease given back) and keeps what it asked for;
 * - {@link prefixModel} says what a cut (a crash's torn tail) leaves:
 *   the `MemoryStore` that was given the same calls, as far as their lines
 *   are whole before the cut;
 * - {@link referenceRead} reads damaged bytes by the documented rules
 *   (`journal-file.ts`, `run-file-lines.ts`), line by line, without the
 *   store: corrupt, absent, or the state the lines make.
 *
 * @module
 */
import { hostname } from "node:os";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { deserialize, MemoryStore, SnapshotCorruptError, type Lease, type RunState, type RunSummary, type StoredRun } from "../../src/index.js";
import { RunFileStore } from "../../src/persistence/run-file-store.js";
import type { StoredRecord } from "../../src/persistence/journal-delta.js";
import { replay } from "../../src/persistence/replay.js";
import { checkRunFileLine, snapshotOf, type SnapshotLine } from "../../src/persistence/run-file-lines.js";
import { fromSnapshotFile } from "../../src/persistence/snapshot-file.js";
import { parseDocument } from "../../src/persistence/stored-document.js";
import { isUtf8 } from "node:buffer";
import type { JournalRecord, NodeCounts, RunMeta } from "../../src/state/records.js";
import { nodeRecord, runRecord, sampleRun } from "../store-conformance.js";

/** One append the fixture made: its records and the counts given with them. */
export interface FixtureAppend {
  readonly records: readonly JournalRecord[];
  readonly counts?: NodeCounts;
}

/** A run file the store wrote, and what was asked of the store to write it. */
export interface RunFileFixture {
  readonly runId: string;
  readonly file: string;
  readonly bytes: Buffer;
  /** The state given to `writeSnapshot` (at seq 0). */
  readonly snapshot: RunState;
  readonly appends: readonly FixtureAppend[];
}

/** A big text (over the 64 KiB a backwards read takes at a time, so lines cross its chunks). */
const BIG = "x".repeat(150_000);

/**
 * Writes run `runId` in `dir` through a `RunFileStore`: its lease, its
 * snapshot, a few appends (one of `batch` node records, written as a
 * batch line; one ending in a run record, with counts), a renewal, one
 * more append, and the lease given back. With `big`, some lines are
 * longer than a chunk of `list`'s backwards read.
 */
export async function writeRunFile(dir: string, runId: string, options: { fsync?: boolean; big?: boolean; batch?: number } = {}): Promise<RunFileFixture> {
  const store = new RunFileStore({ dir, fsync: options.fsync ?? false });
  const pad = options.big === true ? BIG : "";
  const lease: Lease = await store.acquireLease(runId, { owner: "o1", pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() });
  const snapshot = sampleRun(runId, {
    nodeIds: ["a", "b", "c", "d"],
    output: { when: new Date(5), tags: new Set(["x", "y\nz"]), big: 12n, m: new Map([["k", [1, undefined]]]), pad },
  });
  const batch = options.batch ?? 70;
  const meta: RunMeta = snapshot.meta;
  const appends: FixtureAppend[] = [
    {
      records: [nodeRecord(1, "b"), nodeRecord(2, "c", { status: "retrying", error: { name: "Error", message: "flaky\nline", code: "E1" }, retryAt: 4_000 })],
    },
    {
      records: Array.from({ length: batch }, (_, i) =>
        nodeRecord(3 + i, `m#${i}`, {
          nodeId: "m",
          status: i % 7 === 3 ? "failed" : "succeeded",
          output: i === 5 ? `${i}\u0000${pad}` : i % 5 === 0 ? `${i}\u0000\n` : i,
          endedAt: 5_000 + i,
        }),
      ),
    },
    {
      records: [
        nodeRecord(3 + batch, "b", { status: "succeeded", output: { rows: [1, 2n], at: new Date(7) }, endedAt: 9_000 }),
        runRecord(4 + batch, { ...meta, status: "waiting", updatedAt: 9_500, waits: [{ key: "k1", nodeId: "c", since: 9_400 }], inputs: { n: 1, pad } }),
      ],
      counts: { nodeCount: 4 + batch, settledCount: 2 + batch, succeededCount: 2 + batch, failedCount: 0 },
    },
  ];
  await store.writeSnapshot(snapshot, 0, lease);
  for (const a of appends) await store.append(runId, a.records, lease, a.counts);
  const renewed = await store.renewLease(lease, 60_000, Date.now());
  const last: FixtureAppend = { records: [nodeRecord(5 + batch, "c", { status: "running", attempts: 2 }), nodeRecord(6 + batch, "d")] };
  await store.append(runId, last.records, renewed);
  appends.push(last);
  await store.releaseLease(renewed);
  await store.close();
  const file = join(dir, `${runId}.run`);
  return { runId, file, bytes: await readFile(file), snapshot, appends };
}

/** The offset just past each "\n" of `bytes`. */
export function lineEnds(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) out.push(i + 1);
  return out;
}

/** The whole lines of `bytes` (without their "\n"); a fragment after the last "\n" is left out. */
export function wholeLines(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let nl = bytes.indexOf(0x0a, start); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
    out.push(bytes.subarray(start, nl));
    start = nl + 1;
  }
  return out;
}

/** What a reader must make of a run file cut after its first `cut` bytes. */
export interface PrefixExpectation {
  /** What `load` gives (undefined: no snapshot line is whole). */
  readonly loaded: StoredRun | undefined;
  /** What `list` gives for the run. */
  readonly summary: RunSummary | undefined;
  /** The model store (undefined with no whole snapshot line), to give it the calls the store is given next. */
  readonly memory: MemoryStore | undefined;
}

/**
 * The model of the fixture cut after its first `cut` bytes: a
 * `MemoryStore` given the snapshot when its line is whole, then each
 * append's records whose lines are whole, with the append's counts when
 * its counts line is whole too. (Lines are told apart by their own
 * parse: a record line's `seq` says which records it holds.)
 */
export async function prefixModel(fixture: RunFileFixture, cut: number): Promise<PrefixExpectation> {
  const kept = fixture.bytes.subarray(0, cut);
  let snapshotWhole = false;
  let topSeq = -1;
  let countsWhole = 0;
  for (const line of wholeLines(kept)) {
    const doc = (JSON.parse(line.toString("utf8")) as { json: { kind: string; seq?: number } }).json;
    if (doc.kind === "snapshot") snapshotWhole = true;
    else if (doc.kind === "counts") countsWhole += 1;
    else if ((doc.kind === "node" || doc.kind === "run") && doc.seq !== undefined) topSeq = Math.max(topSeq, doc.seq);
  }
  if (!snapshotWhole) return { loaded: undefined, summary: undefined, memory: undefined };
  const memory = new MemoryStore();
  await memory.writeSnapshot(fixture.snapshot, 0);
  let countsSeen = 0;
  for (const a of fixture.appends) {
    const included = a.records.filter((r) => r.seq <= topSeq);
    if (included.length === 0) continue;
    let counts: NodeCounts | undefined;
    if (a.counts !== undefined) {
      countsSeen += 1;
      if (countsSeen <= countsWhole) counts = a.counts;
    }
    await memory.append(fixture.runId, included, undefined, counts);
  }
  const [summary] = await memory.list();
  return { loaded: await memory.load(fixture.runId), summary, memory };
}

/** What {@link referenceRead} found. */
export type Reference = { readonly kind: "corrupt" } | { readonly kind: "absent" } | { readonly kind: "run"; readonly state: RunState; readonly seq: number };

/**
 * Reads the bytes of run `runId`'s file by the documented rules, line by
 * line, without the store:
 *
 * - a file whose last byte is zero ends at its first zero byte;
 * - only whole lines count; one that does not parse or has no run file
 *   line's shape is corruption when another whole line follows it, and is
 *   ignored when it is the last;
 * - a snapshot line of another run, or a run record of another run, is
 *   corruption;
 * - the state is the last snapshot line's, with the records after it
 *   replayed (a record no replay can apply is corruption too).
 */
export function referenceRead(bytes: Buffer, runId: string): Reference {
  let view = bytes;
  if (view.length > 0 && view[view.length - 1] === 0) view = view.subarray(0, view.indexOf(0));
  const lines = wholeLines(view);
  const values: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    // Bytes that are not UTF-8 are damage, never text with U+FFFD in their place.
    const parsed = isUtf8(lines[i]!) ? parseDocument(lines[i]!.toString("utf8"), checkRunFileLine) : { ok: false as const };
    if (parsed.ok) values.push(parsed.value);
    else if (i < lines.length - 1) return { kind: "corrupt" };
  }
  let doc: ReturnType<typeof fromSnapshotFile> | undefined;
  let records: StoredRecord[] = [];
  // The store writes a snapshot line only first in a file, after lease and release lines: one after anything else is damage.
  let afterRecords = false;
  for (const value of values) {
    const line = value as { kind: string };
    if (line.kind !== "snapshot" && line.kind !== "lease" && line.kind !== "release") afterRecords = true;
    if (line.kind === "snapshot") {
      if (afterRecords) return { kind: "corrupt" };
      const snapshot = snapshotOf(line as SnapshotLine);
      if (snapshot.meta.runId !== runId) return { kind: "corrupt" };
      doc = fromSnapshotFile(snapshot);
      records = [];
    } else if (line.kind === "node" || line.kind === "run") {
      const record = line as StoredRecord;
      if (record.kind === "run" && "run" in record && record.run.runId !== runId) return { kind: "corrupt" };
      records.push(record);
    }
  }
  if (doc === undefined) return { kind: "absent" };
  try {
    const { state, seq } = replay(doc, records);
    return { kind: "run", state, seq };
  } catch (err) {
    if (err instanceof SnapshotCorruptError) return { kind: "corrupt" };
    throw err;
  }
}

/**
 * The lease the whole lines of `bytes` say is held: the last lease line's,
 * unless a release line of it follows; and the highest token of them (0:
 * none), which a takeover's token must pass.
 */
export function leaseOf(bytes: Buffer): { held: Lease | undefined; top: number } {
  let lease: Lease | undefined;
  let released = false;
  for (const line of wholeLines(bytes)) {
    const doc = deserialize<{ kind: string; lease?: Lease; owner?: string; token?: number }>(line.toString("utf8"));
    if (doc.kind === "lease") {
      lease = doc.lease;
      released = false;
    } else if (doc.kind === "release" && lease !== undefined && doc.owner === lease.owner && doc.token === lease.token) released = true;
  }
  return { held: released ? undefined : lease, top: lease?.token ?? 0 };
}
