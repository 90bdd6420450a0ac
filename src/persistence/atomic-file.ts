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
 * with nothing written. In a folder the caller made itself (mode 0700,
 * this user's: {@link FolderChecked} `"made"`), no other user can have put
 * anything at the target, so it is not looked at; a rename never follows
 * a link at its target anyway, it replaces it.
 *
 * Costs. The write is made of synchronous system calls (about seven: two
 * `lstat`s, `open`, `fstat`, `write`, `close`, `rename`; with `fsync`, a
 * flush of the file and one of its folder): the files a store writes are
 * small or written once per O(run size) changes, and a trip through
 * libuv's thread pool per call costs more than the call. A big content
 * (a snapshot of a big run) is written and flushed through the pool, so
 * the event loop (and the nodes of other runs) go on meanwhile; given in
 * pieces ({@link writeFileAtomicPieces}), it is written piece by piece and
 * never held whole.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { closeSync, constants, fdatasync, fdatasyncSync, fsyncSync, openSync, renameSync, unlinkSync, write, writeSync } from "node:fs";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { openStoreFileSync, verifyPathSync } from "./store-files.js";

/**
 * What the caller knows of the file's folder: nothing (`false`: it is
 * checked), that it has just checked it (`true`), or that it made it
 * itself, with mode 0700, and checked it then (`"made"`: the target is
 * not looked at either, see the module comment).
 */
export type FolderChecked = boolean | "made";

/** Contents at least this big (bytes) are written and flushed through the thread pool, so the event loop is not held for their length. */
export const LARGE_WRITE_BYTES = 1024 * 1024;

/**
 * Writes `text` to `file` through a temp file and a rename, so readers see
 * the old or the new file. Small contents are written with synchronous
 * calls ({@link writeFileAtomicSync}); from {@link LARGE_WRITE_BYTES} on,
 * the write and the flush go through the thread pool (the checks, the open
 * and the rename stay synchronous). The options are
 * {@link writeFileAtomicSync}'s.
 */
export async function writeFileAtomic(
  file: string,
  text: string | Buffer,
  fsync = false,
  folderChecked: FolderChecked = false,
  syncRename = true,
): Promise<void> {
  const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
  if (bytes.length < LARGE_WRITE_BYTES) {
    writeFileAtomicSync(file, bytes, fsync, folderChecked, syncRename);
    return;
  }
  const { temp, fd } = openTemp(file, folderChecked);
  try {
    await writeAllAsync(fd, bytes);
    if (fsync) await fdatasyncAsync(fd);
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(temp);
    throw err;
  }
  closeAndRename(file, temp, fd, fsync && syncRename);
}

/**
 * {@link writeFileAtomic} of a content given as pieces of text (from
 * `serializeInPieces`), so that a big content is never one string or one
 * buffer: the file holds the pieces' concatenation, replaced atomically
 * under the same rules. A content that ends below
 * {@link LARGE_WRITE_BYTES} is gathered and written as one, with
 * synchronous calls (as {@link writeFileAtomicSync}); a bigger one is
 * written piece by piece through the thread pool, the next piece made
 * while the last one is written. A piece that cannot be made (its error
 * is thrown here) leaves the file as it was and no temp file. The options
 * are {@link writeFileAtomicSync}'s.
 */
export async function writeFileAtomicPieces(
  file: string,
  pieces: Iterable<string>,
  fsync = false,
  folderChecked: FolderChecked = false,
  syncRename = true,
): Promise<void> {
  const iterator = pieces[Symbol.iterator]();
  const first: Buffer[] = [];
  let size = 0;
  let next = iterator.next();
  for (; !next.done && size < LARGE_WRITE_BYTES; next = iterator.next()) {
    const bytes = Buffer.from(next.value, "utf8");
    first.push(bytes);
    size += bytes.length;
  }
  const gathered = first.length === 1 ? first[0]! : Buffer.concat(first, size);
  if (next.done) {
    await writeFileAtomic(file, gathered, fsync, folderChecked, syncRename);
    return;
  }
  first.length = 0;
  const { temp, fd } = openTemp(file, folderChecked);
  let writing: Promise<void> = writeAllAsync(fd, gathered);
  try {
    for (; !next.done; next = iterator.next()) {
      // Made while the piece before is written.
      const bytes = Buffer.from(next.value, "utf8");
      await writing;
      writing = writeAllAsync(fd, bytes);
    }
    await writing;
    if (fsync) await fdatasyncAsync(fd);
  } catch (err) {
    // A write still under way must end before its descriptor is closed.
    await writing.catch(() => undefined);
    iterator.return?.();
    closeQuietly(fd);
    unlinkQuietly(temp);
    throw err;
  }
  closeAndRename(file, temp, fd, fsync && syncRename);
}

/**
 * {@link writeFileAtomic} with synchronous calls. With `folderChecked`,
 * the caller has just checked the file's folder (`verifyPathSync`) and it
 * is not checked again (nor the target, for a folder the caller made:
 * {@link FolderChecked}). With `fsync` and not `syncRename`, the content is
 * flushed before the rename but the rename itself is left to the next
 * flush of the folder (for a file that may lag behind after a power loss).
 * With `temp`, the temp file is made at that path (on the same file
 * system, in a folder already checked) instead of beside `file`: a run
 * file's claim keeps its temp files with the run file's (`run-file-io.ts`).
 */
export function writeFileAtomicSync(
  file: string,
  text: string | Buffer,
  fsync = false,
  folderChecked: FolderChecked = false,
  syncRename = true,
  temp?: string,
): void {
  const { temp: made, fd } = openTemp(file, folderChecked, temp);
  try {
    writeAllSync(fd, typeof text === "string" ? Buffer.from(text, "utf8") : text);
    if (fsync) fdatasyncSync(fd);
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(made);
    throw err;
  }
  closeAndRename(file, made, fd, fsync && syncRename);
}

/**
 * {@link writeFileAtomicSync} without `fsync`, the descriptor of the new
 * file left open and given back (with its size) for the caller to
 * overwrite it in place later (`small-file.ts`, `KeptFile`) and close.
 */
export function writeFileAtomicKeptSync(file: string, text: string, folderChecked: FolderChecked = false): { fd: number; size: number } {
  const { temp, fd } = openTemp(file, folderChecked);
  const bytes = Buffer.from(text, "utf8");
  try {
    writeAllSync(fd, bytes);
    renameSync(temp, file);
  } catch (err) {
    closeQuietly(fd);
    unlinkQuietly(temp);
    throw err;
  }
  return { fd, size: bytes.length };
}

/** Checks `file` and its folder, and makes the temp file beside it (see the module comment), or at `at`. */
function openTemp(file: string, folderChecked: FolderChecked, at?: string): { temp: string; fd: number } {
  if (folderChecked === false) verifyPathSync(dirname(file), "folder");
  if (folderChecked !== "made") verifyPathSync(file, "file");
  const temp = at ?? `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  const opened = openStoreFileSync(temp, "create");
  if (!opened) throw new Error(`taskloom internal error: ${temp} was not created`);
  return { temp, fd: opened.fd };
}

/** Closes the written temp file and renames it over `file`; with `syncFolderAfter`, flushes the folder so the rename is durable. */
function closeAndRename(file: string, temp: string, fd: number, syncFolderAfter: boolean): void {
  try {
    closeSync(fd);
    renameSync(temp, file);
  } catch (err) {
    // Only a temp file made here is removed: a name taken by something else stays as it was.
    unlinkQuietly(temp);
    throw err;
  }
  // The rename is durable once the folder's entry is.
  if (syncFolderAfter) syncFolder(dirname(file));
}

/** Writes every byte of `buffer` to `fd` at its offset, through the thread pool. */
async function writeAllAsync(fd: number, buffer: Buffer): Promise<void> {
  let offset = 0;
  while (offset < buffer.length) offset += await writeAsync(fd, buffer, offset, buffer.length - offset);
}

/** One `write(2)` through the thread pool; resolves to the bytes written. */
function writeAsync(fd: number, buffer: Buffer, offset: number, length: number): Promise<number> {
  return new Promise((resolve, reject) => write(fd, buffer, offset, length, null, (err, written) => (err ? reject(err) : resolve(written))));
}
const fdatasyncAsync = promisify(fdatasync);

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

/**
 * Flushes the folders `mkdir -p` made for `folder` into the folders above
 * them: each from `folder`'s parent up to the parent of `created` (the
 * first folder made, as `mkdir`'s `recursive` returns it). A folder made
 * survives a power loss only once its parent's entry for it is flushed.
 * The folders above a store may be the caller's links (`syncFolder`'s
 * `follow`).
 */
export function syncMadeFolders(folder: string, created: string): void {
  for (let made = folder; made.length >= created.length; made = dirname(made)) syncFolder(dirname(made), true);
}

/** Writes every byte of `buffer` to `fd` (at its offset, or at the end in append mode). */
export function writeAllSync(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) offset += writeSync(fd, buffer, offset, buffer.length - offset);
}

/** Closes `fd`, ignoring a failure: the caller is already failing, and its error is the one reported. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already failing: the first error is the one reported.
  }
}

/** Removes `path`, ignoring a failure: the caller is already failing, and its error is the one reported. */
export function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already failing: the first error is the one reported.
  }
}
