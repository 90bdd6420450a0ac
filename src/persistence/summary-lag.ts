/**
 * A run's `summary.json` that lags behind its journal, caught up: what
 * `LowdbStore.list` reads for a run whose summary says it is still going
 * (running or pending).
 *
 * Why a summary may lag. With `fsync`, a run's end is durable once the
 * journal's end line (the run meta, stopped) is flushed; the summary
 * written after it (in place, or by rename: `summary-file.ts`) is not
 * flushed, nor is its folder: that would be a disk write at every run's
 * end, and the journal already holds the end. After a power loss the
 * summary may then be the one before, whole, which says the run is still
 * running, or blank (empty or zeros: a summary whose content never
 * reached the disk), which reads as missing. A run appends nothing after its
 * stop until it is resumed (and a resume appends its own run meta first),
 * so a journal whose last record is a stopped run meta is the newer word:
 * the summary is then made again from the run's files (snapshot and
 * journal replayed, as a `load`), without writing anything. So is a
 * missing summary beside a snapshot: a new run's first summary is renamed
 * into place after the folder flush that follows its snapshot, and only a
 * later flush of the folder (none, in a run that ends by an append) makes
 * its name durable.
 *
 * Cost. For a run whose summary says running or pending: an open of its
 * journal, a look at its end and a close. A running run's journal mostly
 * ends in a node record, told by a `JSON.parse` of its last line; else
 * (a run meta last, a torn end, a preallocated journal: one that ends in
 * zeros) `validEnd` reads it as an append would (the last line checked
 * whole, or for a preallocated journal a scan for its first zero byte),
 * and a running run's summary is kept. The replay happens only for a run whose summary did
 * lag or is missing, that is after a power loss (or, an instant, while a
 * run's end is between its journal line and its summary, or a new run
 * between its snapshot and its summary). A folder without a snapshot
 * (a lease taken before the first snapshot) costs a failed open.
 *
 * @module
 */
import { closeSync, readSync } from "node:fs";
import type { RunSummary } from "../state/records.js";
import { summarize } from "../state/run-summary.js";
import { SnapshotCorruptError } from "./errors.js";
import { readJournal, validEnd } from "./journal-reading.js";
import { Replay } from "./replay.js";
import type { RunFiles } from "./run-folder.js";
import { checkSnapshotFile, fromSnapshotFile } from "./snapshot-file.js";
import { readDocumentSync } from "./stored-document.js";
import { openStoreFileSync, readFailure } from "./store-files.js";
import type { SnapshotDocument } from "./replay.js";
import type { SnapshotFileDocument } from "./snapshot-file.js";

const NEWLINE = 0x0a;

/** Whether a run in `status` may still append (a stopped one appends nothing until it is resumed). */
export function stillGoing(status: RunSummary["status"]): boolean {
  return status === "running" || status === "pending";
}

/**
 * `summary` (read from `files.summary` of run `runId`), or the summary of the run as its
 * snapshot and journal hold it when `summary` says the run is still going
 * and the journal ends in a stopped run meta, or when there is no summary
 * but a snapshot (see the module comment; null: neither). Throws as a
 * `load` would (`SnapshotCorruptError`, `UnsafeStoreFileError`) when those
 * files cannot be read.
 *
 * @example
 * ```ts
 * const summary = caughtUp(runId, files, readSummaryFile(files.summary, true));
 * ```
 */
export function caughtUp(runId: string, files: RunFiles, summary: RunSummary | null): RunSummary | null {
  if (summary !== null && (!stillGoing(summary.status) || !endsStopped(files.journal))) return summary;
  const doc = readDocumentSync<SnapshotDocument | SnapshotFileDocument>(files.snapshot, checkSnapshotFile, true);
  if (!doc) return summary;
  if (doc.meta.runId !== runId) throw new SnapshotCorruptError(files.snapshot, `it holds run "${doc.meta.runId}", not "${runId}"`);
  const replay = new Replay(fromSnapshotFile(doc), files.snapshot, files.journal);
  readJournal(files.journal, (r) => replay.apply(r));
  return summarize(replay.result().state);
}

/** The bytes read from a journal's end to find its last line without `validEnd`. */
const TAIL_BYTES = 4096;

/** Whether the journal `file`'s last valid record is a run meta that stopped. */
function endsStopped(file: string): boolean {
  // One name only, as every journal read (journal-reading.ts).
  const opened = openStoreFileSync(file, "read", { singleLink: true });
  if (!opened) return false;
  try {
    if (opened.size === 0 || endsInNodeRecord(opened.fd, opened.size)) return false;
    const { last } = validEnd(opened.fd, opened.size);
    return last?.kind === "run" && !stillGoing(last.run.status);
  } catch (err) {
    throw readFailure(file, err);
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * Whether the journal (`fd`, of `size` bytes) surely ends in a whole line
 * that is no run meta: the last line of a journal that ends in "\n" (not
 * in zeros: a preallocated one), within its last {@link TAIL_BYTES},
 * parsed as plain JSON, is a superjson record whose `kind` is another.
 * False whenever that is not sure (`validEnd` then decides): a running
 * run's summary costs a read of the journal's end and a `JSON.parse` of
 * one line, not a superjson parse and check.
 */
function endsInNodeRecord(fd: number, size: number): boolean {
  const length = Math.min(size, TAIL_BYTES);
  const tail = Buffer.allocUnsafe(length);
  if (readSync(fd, tail, 0, length, size - length) !== length || tail[length - 1] !== NEWLINE) return false;
  const start = tail.lastIndexOf(NEWLINE, length - 2) + 1;
  if (start === 0 && length < size) return false;
  let kind: unknown;
  try {
    kind = (JSON.parse(tail.toString("utf8", start, length - 1)) as { json?: { kind?: unknown } } | null)?.json?.kind;
  } catch {
    return false;
  }
  return typeof kind === "string" && kind !== "run";
}
