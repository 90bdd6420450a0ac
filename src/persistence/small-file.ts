/**
 * Overwriting a small store file in place: the run summary of a
 * `LowdbStore` without `fsync`, rewritten when a run's status changes,
 * and a `lease.json` marked released when its holder gives it back
 * (`lowdb-leases.ts`).
 *
 * Why not a temp file and a rename, as every other replacement: renaming
 * over an existing file frees the old file's blocks, and on ext4 that
 * costs a forced allocation of the new file (`auto_da_alloc`) and, on a
 * file system mounted with `discard`, a discard of the freed block, about
 * 100 us where an overwrite costs 30. A short run rewrites its summary once
 * (its end), so this is a tenth of a 1-node run.
 *
 * Why it is as safe against a process crash: the new text and the old both
 * fit in the file's first page, and it is written with one `pwrite` at
 * offset 0, padded with spaces to the old length (JSON allows trailing
 * whitespace), so no truncation follows. Linux copies a write into the
 * page cache page by page and stops for a fatal signal only between
 * pages, so a SIGKILL leaves the page all old or all new. A power loss
 * can tear a page; a store that promises to survive one (`fsync`) does not
 * use this and replaces the file by rename, as before, except for a run's
 * stop in its one-sector summary (`summary-file.ts`, `summary-lag.ts`). A reader racing the
 * write may see a mix for an instant; `LowdbStore.list` reads a summary
 * that does not parse a second time before it reports it, and a lease read
 * does the same.
 *
 * @module
 */
import { closeSync, writeSync } from "node:fs";
import { openStoreFileSync } from "./store-files.js";

/** The largest text (and old file) overwritten in place: one page of the page cache. */
export const PAGE_BYTES = 4096;

/** How {@link overwriteSmallFileSync} writes. */
export interface SmallFileWrite {
  /**
   * The file ends at least one byte longer than it was (padded with
   * spaces), so that this version's size is one no earlier version of the
   * file had: a reader that knows a version by its inode, modification
   * time and size (the lease fencing copy, `lowdb-leases.ts`) sees the
   * change even when the modification time did not move (it has the
   * clock's coarse tick).
   */
  readonly grow?: boolean;
  /** How many names the file may have (default 1: a second name would be another file written too). */
  readonly maxLinks?: number;
}

/**
 * Overwrites `file`, an existing store file, with `text` in place when
 * both fit in one page (see the module comment). Returns false, writing
 * nothing, when the file does not exist or either text is larger: the
 * caller then replaces the file by rename. Refuses a symbolic link or a
 * file with more hard links than `how.maxLinks` (`UnsafeStoreFileError`),
 * as every store write does.
 *
 * @example
 * ```ts
 * if (!overwriteSmallFileSync(files.summary, text)) writeFileAtomicSync(files.summary, text);
 * ```
 */
export function overwriteSmallFileSync(file: string, text: string, how: SmallFileWrite = {}): boolean {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length > PAGE_BYTES) return false;
  const opened = openStoreFileSync(file, "rewrite", { maxLinks: how.maxLinks ?? 1 });
  if (opened === undefined) return false;
  try {
    return overwriteKeptSync({ file, fd: opened.fd, size: opened.size }, bytes, how.grow === true);
  } finally {
    closeSync(opened.fd);
  }
}

/**
 * A small store file its writer keeps open between two writes (a run's
 * summary, from the snapshot that made it to the run's next change): the
 * next overwrite in place costs one `pwrite`, not an open, a check and a
 * close. The descriptor is the file's as it was checked or made; a file
 * replaced since (by rename) is not written through it, since its writer
 * drops it whenever it replaces the file.
 */
export interface KeptFile {
  /** The file's path, for errors. */
  readonly file: string;
  readonly fd: number;
  /** The file's size, as written last. */
  size: number;
}

/**
 * Overwrites the kept file in place with `text` (a string, or its UTF-8
 * bytes), as {@link overwriteSmallFileSync} does; false, writing nothing,
 * when either text is over a page (or the file is empty).
 */
export function overwriteKeptSync(kept: KeptFile, text: string | Buffer, grow = false): boolean {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  const length = Math.max(bytes.length, grow ? kept.size + 1 : kept.size);
  if (kept.size > PAGE_BYTES || kept.size === 0 || length > PAGE_BYTES) return false;
  const out = length > bytes.length ? Buffer.concat([bytes, Buffer.alloc(length - bytes.length, 0x20)]) : bytes;
  const written = writeSync(kept.fd, out, 0, out.length, 0);
  if (written !== out.length) throw new Error(`taskloom: a short write to ${kept.file} (${written} of ${out.length} bytes): is the disk full?`);
  kept.size = length;
  return true;
}
