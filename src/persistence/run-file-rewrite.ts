/**
 * The ways `RunFileStore` (`run-file-store.ts`) replaces or reopens a run
 * file whole, each under the run's lock, which the caller holds: a
 * compaction (a new file from a snapshot, renamed over the old one), a
 * takeover's copy (the old file's valid lines and the taker's lease line,
 * renamed over it, so a holder that may live writes to a file no reader
 * opens), and the quiet takeover of a file nobody can still write (opened,
 * its torn tail cut off, the taker's lease line written). See
 * `run-file-leases.ts` for when each takeover is made.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { closeSync, fdatasyncSync, renameSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { syncFolder, unlinkQuietly, writeAllSync } from "./atomic-file.js";
import { UnsafeStoreFileError } from "./errors.js";
import { EMPTY, JournalFile, journalText, topSeq } from "./journal-file.js";
import type { StoredRecord } from "./journal-delta.js";
import { fileLook } from "./lease-look.js";
import { appendPieces, copyValidLines, tempOf } from "./run-file-io.js";
import { claimPath, readClaim, type WrittenLease } from "./run-file-leases.js";
import { checkRunFileLine, countsLine, leaseLine, releaseLine, snapshotLinePieces, summaryLine } from "./run-file-lines.js";
import { RunFileWriter } from "./run-file-writer.js";
import type { Lease } from "./run-store.js";
import { openStoreFileSync } from "./store-files.js";
import { summarize, type NodeCounts } from "../state/run-summary.js";
import type { RunState } from "../state/run-state.js";
import type { JournalRecord } from "../state/records.js";

/** What a compaction writes: the state at `seq`, and the records above it with the last counts given. */
export interface Compaction {
  readonly state: RunState;
  readonly seq: number;
  readonly later: readonly StoredRecord[];
  readonly counts: NodeCounts | undefined;
  /**
   * For a writer without a lease (a write without one, a tool's): the
   * lease the file's lines say, written as they say it (a held lease's
   * line, or a given-back lease's release line, which keeps the next
   * token above it), so that the compaction changes no lease.
   */
  readonly written?: WrittenLease | undefined;
}

/**
 * Writes the compacted run file to `temp` (`writer`'s lease, the snapshot and
 * its summary, the records above its seq and their counts), flushed with
 * `fsync`, renames it over `file` (then flushes `dir`), and reopens `writer`
 * on it. The caller removes `temp` when this throws.
 */
export function writeCompacted(file: string, temp: string, dir: string, writer: RunFileWriter, compaction: Compaction, fsync: boolean): void {
  const { state, seq, later, counts } = compaction;
  const made = JournalFile.make(temp, false);
  if (made === undefined) throw new UnsafeStoreFileError(temp, "it exists already, and taskloom makes each such name once");
  try {
    if (writer.lease) made.appendText(leaseLine(writer.lease));
    else if (compaction.written?.lease) made.appendText(leaseLine(compaction.written.lease));
    else if (compaction.written) made.appendText(releaseLine(compaction.written));
    appendPieces(made, snapshotLinePieces(state, seq), summaryLine(summarize(state)));
    if (later.length > 0) {
      made.appendText(journalText(later));
      if (counts !== undefined && later.some((r) => r.kind === "run")) made.appendText(countsLine(counts));
    }
    if (fsync) made.flushSync();
  } finally {
    made.close();
  }
  renameSync(temp, file);
  if (fsync) syncFolder(dir, true);
  writer.journal.close();
  writer.journal = JournalFile.open(file, fsync, false, checkRunFileLine).journal;
  writer.top = later.length === 0 ? EMPTY : topSeq(later as JournalRecord[]);
}

/**
 * Copies the run file's valid lines and `tail` into a new file and renames
 * it over the run file (flushed with `fsync`, then `dir`): whoever still
 * writes the old file writes to a file no reader opens.
 */
export function copyWith(file: string, dir: string, tail: string, fsync: boolean): void {
  const temp = tempOf(file);
  const made = openStoreFileSync(temp, "create");
  if (made === undefined) throw new UnsafeStoreFileError(temp, "it could not be made");
  try {
    try {
      copyValidLines(file, made.fd);
      writeAllSync(made.fd, Buffer.from(tail));
      if (fsync) fdatasyncSync(made.fd);
    } finally {
      closeSync(made.fd);
    }
    renameSync(temp, file);
    if (fsync) syncFolder(dir, true);
  } catch (err) {
    unlinkQuietly(temp);
    throw err;
  }
}

/**
 * The quiet takeover of a run file nobody can still write (its lease was
 * given back, or never written, or its holder is provably a dead process
 * of this host): the file opened as the taker's, its torn tail cut off, and
 * `lease` written, with no claim, no wait and no copy; a claim left there
 * has a lower token. The writer remembers where the file ended before the
 * lease line (`RunFileWriter.undoTo`).
 */
export function openQuietly(file: string, fsync: boolean, lease: Lease): RunFileWriter {
  const seenAt = performance.now();
  const claimLook = fileLook(claimPath(file));
  const claim = claimLook === undefined ? undefined : readClaim(file);
  const { journal } = JournalFile.open(file, fsync, false, checkRunFileLine);
  const undoTo = journal.end;
  try {
    journal.appendText(leaseLine(lease));
  } catch (err) {
    journal.close();
    throw err;
  }
  return new RunFileWriter(file, journal, { lease, seenAt, claimLook, claim, undoTo });
}
