/**
 * How `RunFileStore` (`run-file-store.ts`) reads a run file
 * (`run-file-lines.ts`): whole and in order for a load, from its end for
 * `list`, and without parsing for what a compaction or a check needs.
 *
 * @module
 */
import { closeSync } from "node:fs";
import { SnapshotCorruptError } from "./errors.js";
import { EMPTY } from "./journal-file.js";
import { readJournal } from "./journal-reading.js";
import type { StoredRecord } from "./journal-delta.js";
import { eachLineBackwards, parseLineAt } from "./run-file-leases.js";
import {
  checkRunFileLine,
  isRunRecordLine,
  lineKind,
  snapshotOf,
  type CountsLine,
  type RunFileLine,
  type SnapshotLine,
  type SummaryLine,
} from "./run-file-lines.js";
import { Replay } from "./replay.js";
import { runMetaOfLine } from "./run-meta-line.js";
import type { LoadHint } from "./run-store.js";
import { fromSnapshotFile } from "./snapshot-file.js";
import { openStoreFileSync } from "./store-files.js";
import { summarize, summaryOf, type NodeCounts } from "../state/run-summary.js";
import type { RunMeta, RunSummary } from "../state/records.js";

/**
 * Reads the run file `file` of run `runId` whole: the replay of its records
 * over its snapshot (undefined when it holds no snapshot line: a run
 * claimed and never started, or whose start was torn), and the highest seq
 * among its records (`EMPTY`: none). A bad line with a valid one after it,
 * a snapshot of another run, a record of another run, or a snapshot line
 * after records (this store writes one first in a file, after lease lines
 * only) is `SnapshotCorruptError` naming the file.
 */
export function readRunFile(file: string, runId: string, hint?: LoadHint): { replay: Replay | undefined; top: number } {
  let replay: Replay | undefined;
  let records = 0;
  let top = EMPTY;
  readJournal(
    file,
    (value) => {
      const line = value as RunFileLine;
      if (line.kind === "snapshot") {
        if (records > 0) throw new SnapshotCorruptError(file, "a snapshot line follows journal records");
        const doc = snapshotOf(line);
        if (doc.meta.runId !== runId) throw new SnapshotCorruptError(file, `its snapshot holds run "${doc.meta.runId}", not "${runId}"`);
        replay = new Replay(fromSnapshotFile(doc, hint?.layout?.order), file, file, hint?.layout);
      } else if (line.kind === "node" || line.kind === "run") {
        const record = line;
        if (record.kind === "run" && "run" in record && record.run.runId !== runId) {
          throw new SnapshotCorruptError(file, `a record (seq ${record.seq}) holds run "${record.run.runId}", not "${runId}"`);
        }
        records += 1;
        if (record.seq > top) top = record.seq;
        replay?.apply(record);
      } else if (line.kind === "summary" || line.kind === "counts") records += 1;
    },
    checkRunFileLine,
  );
  return { replay, top };
}

/**
 * The summary of the run file `file`, read from its end: the last summary
 * line, with the meta of the last run record and the last counts after it;
 * undefined when it holds none (a run claimed and never started). A start
 * torn between its snapshot line and its summary line (a big run's start is
 * several writes) is summarized from the snapshot, as a load reads it. A
 * summary, snapshot or run record of a run other than `runId` is
 * `SnapshotCorruptError` naming the file, as a load finds it.
 */
export function summaryOfRunFile(file: string, runId: string): RunSummary | undefined {
  const opened = openStoreFileSync(file, "read", { singleLink: true });
  if (opened === undefined) return undefined;
  let meta: RunMeta | undefined;
  let counts: NodeCounts | undefined;
  let base: RunSummary | undefined;
  try {
    eachLineBackwards(opened.fd, opened.size, (line) => {
      // Without its outputs, which a summary does not hold (a fan-out's are every sink's: run-meta-line.ts).
      if (meta === undefined && isRunRecordLine(line)) meta = runMetaOfLine(line, file);
      const kind = lineKind(line);
      if (kind === "counts" && counts === undefined) counts = parseLineAt<CountsLine>(line, file).counts;
      if (kind === "snapshot") {
        const doc = fromSnapshotFile(snapshotOf(parseLineAt<SnapshotLine>(line, file)));
        base = summarize(new Replay(doc, file, file).result().state);
        return true;
      }
      if (kind !== "summary") return false;
      base = parseLineAt<SummaryLine>(line, file).summary;
      return true;
    });
  } finally {
    closeSync(opened.fd);
  }
  if (base === undefined) return undefined;
  const other = meta !== undefined && meta.runId !== runId ? meta.runId : base.runId !== runId ? base.runId : undefined;
  if (other !== undefined) throw new SnapshotCorruptError(file, `it holds run "${other}", not "${runId}"`);
  if (meta === undefined) return counts === undefined ? base : { ...base, ...counts };
  return summaryOf(meta, counts ?? base);
}

/**
 * Whether the run file `file` holds a snapshot line. Its lines are read,
 * and only its lease and release lines (a few short ones) parsed: a bad
 * one with lines after it is `SnapshotCorruptError`, so a run whose holder
 * cannot be read is not deleted (a takeover reads from the end and stops
 * at a release line, `run-file-leases.ts`, `writtenLease`).
 */
export function holdsSnapshot(file: string): boolean {
  let found = false;
  readJournal(
    file,
    () => undefined,
    checkRunFileLine,
    (bytes) => {
      const kind = lineKind(bytes);
      if (kind === "snapshot") found = true;
      return kind !== "lease" && kind !== "release";
    },
  );
  return found;
}

/**
 * The records of the run file `file` with a seq above `seq` (what a
 * compaction at `seq` keeps), and the last counts line's counts; its
 * snapshot, summary and lease lines are not parsed.
 */
export function recordsAbove(file: string, seq: number): { later: StoredRecord[]; counts: NodeCounts | undefined } {
  const later: StoredRecord[] = [];
  let counts: NodeCounts | undefined;
  readJournal(
    file,
    (value) => {
      const line = value as RunFileLine;
      if (line.kind === "counts") counts = line.counts;
      else if ((line as StoredRecord).seq > seq) later.push(line as StoredRecord);
    },
    checkRunFileLine,
    (bytes) => {
      const kind = lineKind(bytes);
      return kind !== undefined && kind !== "counts";
    },
  );
  return { later, counts };
}
