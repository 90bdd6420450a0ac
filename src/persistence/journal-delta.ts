/**
 * Journal records that say what they share with the activation's previous
 * record instead of repeating it, as a `LowdbStore` journal may hold them
 * (since snapshot format version 2). A resume resets its failed nodes, and
 * every record of such a node carries the attempt log with the failed
 * attempt's error and stack: written whole, the reset records and the
 * results that follow repeat it twice per node (a 10,000-node resume of
 * 1,000 failed nodes wrote a megabyte of journal, most of it copies).
 *
 * Three forms ({@link CompactRecord}), each relative to the activation's
 * latest record before it (in the snapshot or earlier in the journal):
 *
 * - `{ kind: "node", seq, reset: id }`: the record is that record reset
 *   for a resume (`markPending`), rebuilt with `markPending` on replay;
 * - `{ kind: "node", seq, resets: [id, …] }`: k such records one after
 *   another, of seqs `seq - k + 1` to `seq` (the i-th resets `resets[i]`),
 *   in one line: a resume resets its failed nodes in one append, and a
 *   10,000-node resume of 1,000 failed nodes wrote 1,000 lines (and
 *   serialized 1,000 records) where one line of their ids says it all;
 * - `{ kind: "node", seq, node, sameLog: true }`: `node` without its
 *   attempt log, which is that record's.
 *
 * A line of resets stands for its k records exactly as k `reset` lines
 * would: replay applies them one by one, each with its own seq (one at or
 * below a snapshot's seq is skipped, as a line would be), and they count
 * as k records towards compaction. A crash tears the line whole or not at
 * all (a torn last line is ignored), so a load sees none of the k or all
 * of them, as it sees none or all of an append's records: the resume's
 * start is one append, and no state between its records is ever relied on
 * (the run meta that follows them says the run started).
 *
 * Invariant: a compact form is written only when it rebuilds exactly the
 * record given. {@link PriorRecords} knows, per run, the latest record of
 * each activation the store holds: the state the run was loaded as or
 * last snapshotted as, and every node record appended since (by id). A
 * form is chosen against that record by value (`isPendingOf`) or by
 * identity (the very attempt log array), never assumed. Whatever this
 * store did not see (a run it did not load, an append that failed, more
 * than {@link MAX_TRACKED} records appended since the base) makes it
 * forget the run, and records are then written whole, as before.
 *
 * @module
 */
import { isPendingOf, markPending, withFields } from "../state/node-transitions.js";
import { getNode, type NodeTable } from "../state/node-table.js";
import type { JournalRecord, NodeRecord } from "../state/records.js";
import { SnapshotCorruptError } from "./errors.js";
import { eachBatched, type BatchRecord } from "./journal-batch.js";

/** A node record written as its activation's previous record reset. */
export interface ResetRecord {
  readonly kind: "node";
  readonly seq: number;
  /** The activation id. */
  readonly reset: string;
}

/**
 * Consecutive node records, each its activation's previous record reset
 * (as {@link ResetRecord}): those of seqs `seq - resets.length + 1` to
 * `seq`, the i-th resetting activation `resets[i]`.
 */
export interface ResetsRecord {
  readonly kind: "node";
  /** The seq of the last of the records. */
  readonly seq: number;
  /** The activation ids, one per record, in seq order. */
  readonly resets: readonly string[];
}

/** A node record whose attempt log is its activation's previous record's. */
export interface SameLogRecord {
  readonly kind: "node";
  readonly seq: number;
  /** The record without its attempt log. */
  readonly node: NodeRecord;
  readonly sameLog: true;
}

/** A journal record as a `LowdbStore` journal may hold it (see the module comment). */
export type CompactRecord = ResetRecord | ResetsRecord | SameLogRecord;

/** A journal line's record: a whole {@link JournalRecord}, a {@link CompactRecord}, or a batch of node records (`journal-batch.ts`). */
export type StoredRecord = JournalRecord | CompactRecord | BatchRecord;

/** The most node records appended since a run's base that {@link PriorRecords} keeps by id; past it the run is forgotten. */
export const MAX_TRACKED = 65_536;

/** The most runs {@link PriorRecords} keeps at once (the least recently loaded one is forgotten first). */
const MAX_RUNS = 64;

/** What one run's store holds: a base table and the records appended since it. */
interface Prior {
  /** The node table the run was loaded (or last snapshotted) as, held weakly: a run only read, never driven, is not kept alive. */
  readonly base: WeakRef<NodeTable>;
  /** The latest record of each activation appended since the base. */
  readonly since: Map<string, NodeRecord>;
}

/** Per run, the latest stored record of each activation, as far as this store knows (see the module comment). */
export class PriorRecords {
  readonly #runs = new Map<string, Prior>();

  /** The store holds `table` for `runId` now (it was loaded, or written as a snapshot). */
  based(runId: string, table: NodeTable): void {
    this.#runs.delete(runId);
    this.#runs.set(runId, { base: new WeakRef(table), since: new Map() });
    if (this.#runs.size > MAX_RUNS) this.#runs.delete(this.#runs.keys().next().value!);
  }

  /** The store no longer knows what it holds for `runId`; true when it knew. */
  forget(runId: string): boolean {
    return this.#runs.delete(runId);
  }

  /** Forgets every run. */
  clear(): void {
    this.#runs.clear();
  }

  /**
   * `records` as they are to be written: a node record in a compact form
   * when one rebuilds it exactly from what the store holds, else as it is
   * (`records` itself when none is); two or more reset records with
   * consecutive seqs in one line ({@link ResetsRecord}).
   */
  encode(runId: string, records: readonly JournalRecord[]): readonly StoredRecord[] {
    const prior = this.#runs.get(runId);
    const base = prior?.base.deref();
    if (prior === undefined || base === undefined) return records;
    // What earlier records of this very call hold: the store holds them before the later ones. Made at
    // the first record that has an attempt log (only those are looked up): a fan-out's append of
    // thousands of records without one makes no map.
    let local: Map<string, NodeRecord> | undefined;
    let out: StoredRecord[] | undefined;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      if (r.kind !== "node") continue;
      const node = r.node;
      if (node.attemptLog !== undefined) {
        if (local === undefined && records.length > 1) local = nodesBefore(records, i);
        const before = local?.get(node.id) ?? prior.since.get(node.id) ?? getNode(base, node.id);
        const compact = before === undefined ? undefined : compactOf(r.seq, before, node);
        if (compact !== undefined) (out ??= records.slice())[i] = compact;
      }
      local?.set(node.id, node);
    }
    return out === undefined ? records : batchResets(out);
  }

  /** `records` are in the journal now. */
  appended(runId: string, records: readonly JournalRecord[]): void {
    const prior = this.#runs.get(runId);
    if (prior === undefined) return;
    for (const r of records) if (r.kind === "node") prior.since.set(r.node.id, r.node);
    if (prior.since.size > MAX_TRACKED) this.#runs.delete(runId);
  }
}

/** The latest node record of each activation among `records[0 .. end)`. */
function nodesBefore(records: readonly JournalRecord[], end: number): Map<string, NodeRecord> {
  const nodes = new Map<string, NodeRecord>();
  for (let i = 0; i < end; i++) {
    const r = records[i]!;
    if (r.kind === "node") nodes.set(r.node.id, r.node);
  }
  return nodes;
}

/** `records` with each run of two or more reset records of consecutive seqs as one {@link ResetsRecord}. */
function batchResets(records: StoredRecord[]): StoredRecord[] {
  let out: StoredRecord[] | undefined;
  for (let i = 0; i < records.length;) {
    const first = records[i]!;
    let end = i + 1;
    if ("reset" in first) {
      while (end < records.length) {
        const next = records[end]!;
        if (!("reset" in next) || next.seq !== records[end - 1]!.seq + 1) break;
        end += 1;
      }
    }
    if (end - i >= 2) {
      const resets: string[] = [];
      for (let k = i; k < end; k++) resets.push((records[k] as ResetRecord).reset);
      (out ??= records.slice(0, i)).push({ kind: "node", seq: records[end - 1]!.seq, resets });
    } else out?.push(first);
    i = end;
  }
  return out ?? records;
}

/**
 * The records one stored record stands for, one at a time and in seq
 * order, each to be expanded against the records before it
 * ({@link expand}): a {@link ResetsRecord}'s as `reset` records, a batch
 * line's as its node records (`journal-batch.ts`), any other record itself.
 */
export function eachRecord(r: StoredRecord, each: (record: JournalRecord | ResetRecord | SameLogRecord) => void): void {
  if ("batch" in r) {
    eachBatched(r, each);
    return;
  }
  if (!("resets" in r)) {
    each(r);
    return;
  }
  const { resets } = r;
  const first = r.seq - resets.length + 1;
  for (let i = 0; i < resets.length; i++) each({ kind: "node", seq: first + i, reset: resets[i]! });
}

/** `node` (of seq `seq`) in a compact form relative to `before`, or undefined when none rebuilds it exactly. */
function compactOf(seq: number, before: NodeRecord, node: NodeRecord): CompactRecord | undefined {
  if (node.attemptLog === before.attemptLog) {
    const { attemptLog: _shared, ...rest } = node;
    return { kind: "node", seq, node: rest, sameLog: true };
  }
  if (isPendingOf(before, node)) return { kind: "node", seq, reset: node.id };
  return undefined;
}

/**
 * The record `r` stands for, given `current`, the activation's latest
 * record before it (undefined: none); a compact form with no record to
 * apply to is `SnapshotCorruptError` naming `source`.
 */
export function expand(r: JournalRecord | ResetRecord | SameLogRecord, current: (id: string) => NodeRecord | undefined, source: string): JournalRecord {
  if (r.kind === "run") return r;
  if ("reset" in r) {
    const before = current(r.reset);
    if (before === undefined) throw new SnapshotCorruptError(source, `a record (seq ${r.seq}) resets activation "${r.reset}", which has no earlier record`);
    return { kind: "node", seq: r.seq, node: markPending()(before) };
  }
  if (!("sameLog" in r)) return r;
  const before = current(r.node.id);
  if (before?.attemptLog === undefined) {
    throw new SnapshotCorruptError(source, `a record (seq ${r.seq}) takes the attempt log of activation "${r.node.id}", which has none before it`);
  }
  return { kind: "node", seq: r.seq, node: withFields(r.node, { attemptLog: before.attemptLog }) };
}
