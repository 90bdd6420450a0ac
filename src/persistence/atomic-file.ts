/**
 * Writing a file so that readers (and a crash) see either the old or the
 * new content: a temp file beside it, then a rename.
 *
 * Nothing planted in the folder is followed (see `store-files.ts`): the
 * folder must be a real folder owned by this user, an existing file at
 * the target must be a regular file owned by this user (a symbolic link
 * there is refused, not replaced), and the temp file is made with
 * `O_CREAT | O_EXCL | O_NOFOLLOW`, so a link at its name fails the write
 * instead of sending it elsewhere. A refusal is `UnsafeStoreFileError`,
 * with nothing written.
 *
 * Costs. The write is made of synchronous system calls (about seven: two
 * `lstat`s, `open`, `fstat`, `write`, `close`, `rename`; with `fsync`, a
 * flush of the file and one of its folder): the files a store writes are
 * small or written once per O(run size) changes, and a trip through
 * libuv's thread pool per call costs more than the call.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { closeSync, constants, fdatasyncSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { openStoreFileSync, verifyPathSync } from "./store-files.js";

/** Writes `text` to `file` through a temp file and a rename, so readers see the old or the new file. */
export async function writeFileAtomic(file: string, text: string, fsync = false): Promise<void> {
  writeFileAtomicSync(file, text, fsync);
}

/**
 * {@link writeFileAtomic} with synchronous calls. With `folderChecked`,
 * the caller has just checked the file's folder (`verifyPathSync`) and it
 * is not checked again. With `fsync` and not `syncRename`, the content is
 * flushed before the rename but the rename itself is left to the next
 * flush of the folder (for a file that may lag behind after a power loss).
 */
export function writeFileAtomicSync(file: string, text: string | Buffer, fsync = false, folderChecked = false, syncRename = true): void {
  const dir = dirname(file);
  if (!folderChecked) verifyPathSync(dir, "folder");
  verifyPathSync(file, "file");
  const temp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  let fd: number | undefined;
  let created = false;
  try {
    const opened = openStoreFileSync(temp, "create");
    if (!opened) throw new Error(`taskloom internal error: ${temp} was not created`);
    fd = opened.fd;
    created = true;
    writeAllSync(fd, typeof text === "string" ? Buffer.from(text, "utf8") : text);
    if (fsync) fdatasyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, file);
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    // Only a temp file made here is removed: a name taken by something else stays as it was.
    if (created) unlinkQuietly(temp);
    throw err;
  }
  // The rename is durable once the folder's entry is.
  if (fsync && syncRename) syncFolder(dir);
}

/**
 * Flushes a folder's entries (a rename or a new file in it) to the disk.
 * A store folder is never reached through a link; with `follow`, `dir` is
 * one of the caller's own folders above the store, which may be a link.
 */
export function syncFolder(dir: string, follow = false): void {
  const folder = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | (follow ? 0 : constants.O_NOFOLLOW));
  try {
    fsyncSync(folder);
  } finally {
    closeSync(folder);
  }
}

/** Writes every byte of `buffer` to `fd` (at its offset, or at the end in append mode). */
export function writeAllSync(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) offset += writeSync(fd, buffer, offset, buffer.length - offset);
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already failing: the first error is the one reported.
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already failing: the first error is the one reported.
  }
}
