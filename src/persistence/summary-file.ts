/**
 * A run's `summary.json` in a `LowdbStore` folder: what `list` reads, one
 * small file per run. Written whole: in place when the store does not
 * fsync and it fits in a page (`small-file.ts`: no rename over the old
 * file, as safe against a process crash), else replaced by rename
 * (`atomic-file.ts`). Read with one retry: a read racing an in-place write
 * may see a mix, so a summary that does not parse is read once more before
 * it counts as corrupt.
 *
 * @module
 */
import { dirname } from "node:path";
import type { RunSummary } from "../state/records.js";
import { closeSync } from "node:fs";
import { writeFileAtomicKeptSync, writeFileAtomicSync, type FolderChecked } from "./atomic-file.js";
import { SnapshotCorruptError } from "./errors.js";
import { overwriteKeptSync, overwriteSmallFileSync, type KeptFile } from "./small-file.js";
import { checkSummary } from "./snapshot-schema.js";
import { readDocumentSync } from "./stored-document.js";
import { openStoreFileSync, verifyPathSync } from "./store-files.js";

/** How {@link writeSummaryFile} writes. */
export interface SummaryWrite {
  /** The store's `fsync`: the summary is then always replaced by rename, its content flushed first. */
  readonly fsync: boolean;
  /** The caller has just checked the run's folder (or made it: `atomic-file.ts`, {@link FolderChecked}). */
  readonly folderChecked: FolderChecked;
  /** With fsync, flush the folder after the rename too (false beside a snapshot: see `LowdbStore`). */
  readonly syncFolder: boolean;
  /**
   * The caller believes there is no summary yet (a run this store found
   * without a snapshot): the in-place overwrite, which would only fail to
   * open the file, is not tried. A wrong belief costs a rename, never
   * correctness: the file is then replaced by rename, as with `fsync`.
   */
  readonly likelyNew?: boolean;
}

/**
 * Writes a run's summary `text` to `file` (see the module comment).
 *
 * @example
 * ```ts
 * writeSummaryFile(files.summary, serialize(summary), { fsync: false, folderChecked: true, syncFolder: false });
 * ```
 */
export function writeSummaryFile(file: string, text: string, how: SummaryWrite): void {
  if (!how.fsync && how.likelyNew !== true) {
    if (!how.folderChecked) verifyPathSync(dirname(file));
    if (overwriteSmallFileSync(file, text)) return;
  }
  writeFileAtomicSync(file, text, how.fsync, how.folderChecked, how.syncFolder);
}

/**
 * {@link writeSummaryFile} for a store without `fsync`, the file kept
 * open for the run's next summary (`small-file.ts`, `KeptFile`), which
 * the caller writes with `overwriteKeptSync` and closes: written in place
 * through the checked descriptor, or made by rename and kept open.
 */
export function writeSummaryKept(file: string, text: string, how: Omit<SummaryWrite, "fsync" | "syncFolder">): KeptFile {
  if (how.likelyNew !== true) {
    if (!how.folderChecked) verifyPathSync(dirname(file));
    const opened = openStoreFileSync(file, "rewrite", { singleLink: true });
    if (opened !== undefined) {
      const kept: KeptFile = { file, fd: opened.fd, size: opened.size };
      try {
        if (overwriteKeptSync(kept, text)) return kept;
      } catch (err) {
        closeSync(opened.fd);
        throw err;
      }
      closeSync(opened.fd);
    }
  }
  return { file, ...writeFileAtomicKeptSync(file, text, how.folderChecked) };
}

/** Reads a run's summary, or null when there is none; `SnapshotCorruptError` when it does not parse twice running. */
export function readSummaryFile(file: string, folderChecked = false): RunSummary | null {
  try {
    return readDocumentSync<RunSummary>(file, checkSummary, folderChecked);
  } catch (err) {
    if (!(err instanceof SnapshotCorruptError)) throw err;
    return readDocumentSync<RunSummary>(file, checkSummary, folderChecked);
  }
}
