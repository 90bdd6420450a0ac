/**
 * A run's `summary.json` in a `LowdbStore` folder: what `list` reads, one
 * small file per run. Written whole: in place when the store does not
 * fsync and it fits in a page (`small-file.ts`: no rename over the old
 * file, as safe against a process crash), else replaced by rename
 * (`atomic-file.ts`). Read with one retry: a read racing an in-place write
 * may see a mix, so a summary that does not parse is read once more before
 * it counts as corrupt.
 *
 * With `fsync`, a summary is replaced by rename, padded with spaces to
 * {@link SECTOR_BYTES} when shorter (JSON allows trailing whitespace): one
 * disk sector. Its content is not flushed before the rename: a summary is
 * made again from the run's files whenever it is missing (`summary-lag.ts`),
 * and what a power loss can leave of one whose name reached the disk
 * before its content, an empty file or zeros, reads as missing
 * ({@link readSummaryFile}); a flush bought only that, at every run's
 * start. Where the folder is flushed after the rename (a run that stops
 * by a snapshot), the new name is then durable and the content is the
 * new summary or blank, never the old one. A summary that may lag
 * behind after a power loss (a run's stop: the journal line just flushed
 * holds it, and `list` reads a lagging summary from the run's files,
 * `summary-lag.ts`) is then written over such a file in place, at the
 * same size, without a flush: no file made, no rename, no flush at a
 * run's end. After a power loss the file holds the old sector or the new
 * one: a disk writes a sector whole or not at all (PostgreSQL keeps its
 * control file, overwritten in place, within 512 bytes for the same
 * reason), the file's size does not change, and the old summary, which
 * says the run is still going, is caught up by `list`.
 *
 * @module
 */
import { dirname } from "node:path";
import type { RunSummary } from "../state/records.js";
import { closeSync } from "node:fs";
import { closeQuietly, syncFolder, unlinkQuietly, writeAllSync, writeFileAtomicKeptSync, writeFileAtomicSync, type FolderChecked } from "./atomic-file.js";
import { hasCode } from "./folder-lock.js";
import { overwriteKeptSync, overwriteSmallFileSync, PAGE_BYTES, type KeptFile } from "./small-file.js";
import { checkSummary } from "./snapshot-schema.js";
import { BLANK, readRewrittenDocumentSync } from "./stored-document.js";
import { openStoreFileSync, verifyPathSync } from "./store-files.js";

/** How {@link writeSummaryFile} writes. */
export interface SummaryWrite {
  /** The store's `fsync`: the summary is then always replaced by rename (padded to a sector; its content not flushed: see the module comment). */
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
  /**
   * With fsync: a lag of this summary after a power loss is caught up by
   * `list` (`summary-lag.ts`: a run's stop, which its journal holds), so
   * it is written in place without a flush when it fits the file's one
   * sector (see the module comment).
   */
  readonly mayLag?: boolean;
}

/** With fsync, a summary is padded to this size (one disk sector) when shorter, and a summary that may lag is written over it in place. */
export const SECTOR_BYTES = 512;

/**
 * Writes a run's summary `text` to `file` (see the module comment).
 *
 * @example
 * ```ts
 * writeSummaryFile(files.summary, serialize(summary), { fsync: false, folderChecked: true, syncFolder: false });
 * ```
 */
export function writeSummaryFile(file: string, text: string, how: SummaryWrite): void {
  if (how.fsync) {
    const bytes = sectorPadded(text);
    if (how.mayLag === true && bytes.length === SECTOR_BYTES && overwriteSectorSync(file, bytes, how.folderChecked)) return;
    // Content not flushed (see the module comment); the rename is, with its folder, when asked.
    writeFileAtomicSync(file, bytes, false, how.folderChecked);
    if (how.syncFolder) syncFolder(dirname(file));
    return;
  }
  if (how.likelyNew !== true) {
    if (!how.folderChecked) verifyPathSync(dirname(file));
    if (overwriteSmallFileSync(file, text)) return;
  }
  writeFileAtomicSync(file, text, false, how.folderChecked, how.syncFolder);
}

/** `text`'s UTF-8 bytes, padded with spaces to {@link SECTOR_BYTES} when shorter. */
function sectorPadded(text: string): Buffer {
  const length = Buffer.byteLength(text, "utf8");
  if (length >= SECTOR_BYTES) return Buffer.from(text, "utf8");
  const bytes = Buffer.alloc(SECTOR_BYTES, 0x20);
  bytes.write(text, 0, "utf8");
  return bytes;
}

/**
 * Writes `bytes` (one sector) over `file` in place when the file is one
 * sector long, as a summary written with fsync is: the same size, so no
 * metadata changes. False, writing nothing, when there is no such file.
 */
function overwriteSectorSync(file: string, bytes: Buffer, folderChecked: FolderChecked): boolean {
  if (!folderChecked) verifyPathSync(dirname(file));
  const opened = openStoreFileSync(file, "rewrite", { singleLink: true });
  if (opened === undefined) return false;
  try {
    return opened.size === SECTOR_BYTES && overwriteKeptSync({ file, fd: opened.fd, size: opened.size }, bytes);
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * {@link writeSummaryFile} for a store without `fsync`, the file kept
 * open for the run's next summary (`small-file.ts`, `KeptFile`), which
 * the caller writes with `overwriteKeptSync` and closes: written in place
 * through the checked descriptor, made (a new run's: see
 * {@link createSummaryKept}), or made by rename, and kept open.
 */
export function writeSummaryKept(file: string, text: string, how: Omit<SummaryWrite, "fsync" | "syncFolder">): KeptFile {
  if (how.likelyNew === true) {
    const made = createSummaryKept(file, text, how.folderChecked);
    if (made !== undefined) return made;
  } else {
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

/**
 * A new run's first summary, without `fsync`: `file` made with `O_CREAT |
 * O_EXCL` and written with one `write`, no temp file and no rename (one
 * system call fewer at every run's start, issue 16). Undefined, with
 * nothing made, when `file` exists (the caller replaces it by rename).
 * As safe as the rename: until the write, and after a crash before it,
 * the file is empty, which reads as no summary ({@link readSummaryFile}),
 * and `list` makes a missing summary beside a snapshot from the run's
 * files (`summary-lag.ts`), as after a power loss; the text fits in a
 * page (else the rename is taken), which one `write` leaves all there or
 * not at all after a SIGKILL (`small-file.ts`).
 */
function createSummaryKept(file: string, text: string, folderChecked: FolderChecked): KeptFile | undefined {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > PAGE_BYTES) return undefined;
  if (folderChecked === false) verifyPathSync(dirname(file));
  let opened;
  try {
    opened = openStoreFileSync(file, "create");
  } catch (err) {
    // A file there (or a link planted at the name, which O_NOFOLLOW never follows): replaced by rename, which checks.
    if (hasCode(err, "EEXIST")) return undefined;
    throw err;
  }
  if (opened === undefined) throw new Error(`taskloom internal error: ${file} was not created`);
  try {
    writeAllSync(opened.fd, bytes);
  } catch (err) {
    // Only the run's lease holder writes its summary: the file removed is the one just made.
    closeQuietly(opened.fd);
    unlinkQuietly(file);
    throw err;
  }
  return { file, fd: opened.fd, size: bytes.length };
}

/**
 * Reads a run's summary, or null when there is none or a power loss left
 * it blank (empty, or zero bytes only: see the module comment);
 * `SnapshotCorruptError` when it does not parse twice running.
 */
export function readSummaryFile(file: string, folderChecked = false): RunSummary | null {
  const read = readRewrittenDocumentSync<RunSummary>(file, checkSummary, folderChecked);
  return read === BLANK ? null : read;
}
