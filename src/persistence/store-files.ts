/**
 * Opening the files and folders of a store without being led elsewhere.
 * A store folder may be shared (a team's `.taskloom`, a volume mounted in
 * several containers), so anything in it may have been planted: a
 * `journal.ndjson` that is a symbolic link to `/etc/passwd`, a run folder
 * that links to another user's home. A process that followed such a link
 * would truncate, chmod or append to the file it points to, with its own
 * rights (root's, perhaps).
 *
 * Rules, for every run folder and store file:
 * - a folder is checked with `lstat` (never followed) before use, and
 *   after `mkdir` made it or found it: it must be a real folder owned by
 *   this process's user;
 * - a file is opened with `O_NOFOLLOW` (a symbolic link fails the open,
 *   with nothing read or written) and `O_NONBLOCK` (a planted FIFO cannot
 *   block the open), then checked through the open handle (`fstat`): a
 *   regular file, owned by this user, and, for a file written in place
 *   (the journal), with a single name (a hard link would make the write
 *   land in another file). Every later read, write, chmod and truncate
 *   goes through that verified handle, never through the path again.
 *
 * Costs. The checks and the opens are synchronous system calls (`lstat`,
 * `open`, `fstat`): each takes a few microseconds, where a trip through
 * libuv's thread pool costs tens, and a run makes dozens of them. Only
 * {@link openStoreFile} (a `FileHandle`, for callers that read big files
 * in pieces) goes through the pool.
 *
 * Made as asked. A file made with `O_CREAT | O_EXCL | O_NOFOLLOW` (a temp
 * file, "create", or any file opened `exclusive`: a new run's journal) and a folder `mkdir` has just made are new: a real file
 * or folder, this process's user's, with one name, nothing planted (the
 * exclusive creation fails on any name already there). Their check is for
 * their mode alone: the umask may have taken bits off what was asked (it
 * can only take bits off, never add them). So once this process has seen
 * one of each kind come out exactly as asked (checked as any other, owner
 * included), the later ones are not looked at ({@link madeAsAsked}): a
 * new run spared three `lstat`/`fstat` calls and their `Stats` objects
 * (four `Date`s each, in Node 20) of its 40 or so calls. What a umask
 * changed later in the process could do is give a new file fewer bits
 * than 0600, never more.
 *
 * Anything else is {@link UnsafeStoreFileError} naming the path. Ownership
 * is not checked where the platform has no user ids (Windows).
 *
 * @module
 */
import { Buffer, isUtf8 } from "node:buffer";
import type { Stats } from "node:fs";
import { accessSync, closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { describe, TaskloomError } from "../errors.js";
import { SnapshotCorruptError, StoreFolderError, UnsafeStoreFileError } from "./errors.js";
import { hasCode } from "./folder-lock.js";

/** Mode of every file a store writes. */
export const FILE_MODE = 0o600;

const { O_RDONLY, O_WRONLY, O_RDWR, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

/**
 * How {@link openStoreFile} opens: to read, to append (made if missing), to
 * write at chosen offsets (made if missing, no `O_APPEND`), to truncate in
 * place, or a new file.
 */
export type OpenPurpose = "read" | "append" | "update" | "rewrite" | "create";

const FLAGS: Record<OpenPurpose, number> = {
  read: O_RDONLY,
  append: O_RDWR | O_APPEND | O_CREAT,
  update: O_RDWR | O_CREAT,
  rewrite: O_WRONLY,
  create: O_WRONLY | O_CREAT | O_EXCL,
};

/** This process's user id (each `process.getuid()` is a system call, and the checks make dozens per run). */
let uid: number | undefined | null = null;
const currentUid = (): number | undefined => {
  if (uid === null) uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  return uid;
};

/** Why `stats` (of `path`) may not be used, or undefined when it may: it may have at most `maxLinks` names. */
function unsafe(stats: Stats, kind: "file" | "folder", maxLinks: number): string | undefined {
  if (stats.isSymbolicLink()) return "it is a symbolic link";
  if (kind === "folder" && !stats.isDirectory()) return "it is not a folder";
  if (kind === "file" && !stats.isFile()) return "it is not a regular file";
  const uid = currentUid();
  if (uid !== undefined && stats.uid !== uid) return `it is owned by uid ${stats.uid}, not by this process's uid ${uid}`;
  if (stats.nlink > maxLinks) return `it has ${stats.nlink} hard links, so writing it would change another file`;
  return undefined;
}

/** Whether this process has seen a file ("create") or a folder (`mkdir`) it made come out as asked (see "Made as asked"). */
const madeSeen = { file: false, folder: false };

/** True once this process has seen a new `kind` it made pass its check with the mode asked (see "Made as asked"): later ones need no look. */
export function madeAsAsked(kind: "file" | "folder"): boolean {
  return madeSeen[kind];
}

/** Records that a new `kind` made by this process passed its check with the mode asked. */
export function sawMadeAsAsked(kind: "file" | "folder"): void {
  madeSeen[kind] = true;
}

/**
 * Checks a store folder (or an existing file, with `kind: "file"`) without
 * following it, with one `lstat`. False when it does not exist.
 */
export function verifyPathSync(path: string, kind: "file" | "folder" = "folder"): boolean {
  return checkedStats(path, kind) !== undefined;
}

/** {@link verifyPathSync}, giving what `lstat` said (undefined when the path does not exist). */
export function checkedStats(path: string, kind: "file" | "folder" = "folder"): Stats | undefined {
  // ENOTDIR, EACCES…: the folder above is not usable, as the caller's own error says.
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (stats === undefined) return undefined;
  const problem = unsafe(stats, kind, Infinity);
  if (problem !== undefined) throw new UnsafeStoreFileError(path, problem);
  return stats;
}

/**
 * How many names (hard links) an opened store file may have: any number
 * unless said. `singleLink`: one (a file written in place, whose write
 * must not land in another file); `maxLinks`: at most that many (a
 * `lease.json` whose second name is the lease lock its writer holds).
 */
export interface StoreFileLinks {
  readonly singleLink?: boolean;
  readonly maxLinks?: number;
}

/** How {@link openStoreFileSync} opens, beyond its purpose. */
export interface StoreFileOpen extends StoreFileLinks {
  /**
   * Make the file, failing with `EEXIST` when the name is taken
   * (`O_CREAT | O_EXCL`), whatever the purpose: a file made so is new and
   * is checked only as "create" is (see "Made as asked").
   */
  readonly exclusive?: boolean;
}

function maxLinksOf(options: StoreFileLinks): number {
  return options.maxLinks ?? (options.singleLink === true ? 1 : Infinity);
}

/**
 * Opens a store file without following a symbolic link and checks it
 * through the handle. Resolves to undefined when the file does not exist
 * (never for "append" and "update", which make it with mode 0600, nor for "create").
 */
export async function openStoreFile(file: string, purpose: OpenPurpose, options: StoreFileLinks = {}): Promise<FileHandle | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, FLAGS[purpose] | O_NOFOLLOW | O_NONBLOCK, FILE_MODE);
  } catch (err) {
    return missingOrThrow(err, file, purpose);
  }
  try {
    const problem = unsafe(await handle.stat(), "file", maxLinksOf(options));
    if (problem !== undefined) throw new UnsafeStoreFileError(file, problem);
    return handle;
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/**
 * What a failed open of `file` means: undefined when the file does not
 * exist and `purpose` does not make it; else the error to throw
 * (`UnsafeStoreFileError` for a symbolic link, a read's failure naming the
 * file, or the error itself).
 */
function missingOrThrow(err: unknown, file: string, purpose: OpenPurpose): undefined {
  if (hasCode(err, "ENOENT") && purpose !== "append" && purpose !== "update" && purpose !== "create") return undefined;
  // Linux says ELOOP for a symbolic link opened with O_NOFOLLOW, the BSDs EMLINK.
  if (hasCode(err, "ELOOP") || hasCode(err, "EMLINK")) throw new UnsafeStoreFileError(file, "it is a symbolic link");
  if (purpose === "read") throw readFailure(file, err);
  throw err;
}

/** A store file opened by {@link openStoreFileSync}: its descriptor and its size when opened. */
export interface OpenedStoreFile {
  readonly fd: number;
  readonly size: number;
}

/**
 * {@link openStoreFile} with synchronous calls, giving the descriptor (the
 * caller closes it) and the file's size; the mode is set to
 * {@link FILE_MODE} when it is not that already (a file made here under
 * an unusual umask, or an old one).
 */
export function openStoreFileSync(file: string, purpose: OpenPurpose, options: StoreFileOpen = {}): OpenedStoreFile | undefined {
  const made = purpose === "create" || options.exclusive === true;
  let fd: number;
  try {
    fd = openSync(file, FLAGS[purpose] | (made ? O_CREAT | O_EXCL : 0) | O_NOFOLLOW | O_NONBLOCK, FILE_MODE);
  } catch (err) {
    return missingOrThrow(err, file, purpose);
  }
  // A new file made exclusively, once one came out as asked: nothing to look at (see "Made as asked").
  if (made && madeSeen.file) return { fd, size: 0 };
  try {
    const stats = fstatSync(fd);
    const problem = unsafe(stats, "file", maxLinksOf(options));
    if (problem !== undefined) throw new UnsafeStoreFileError(file, problem);
    if (purpose !== "read" && (stats.mode & 0o777) !== FILE_MODE) fchmodSync(fd, FILE_MODE);
    else if (made) madeSeen.file = true;
    return { fd, size: stats.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Reads a whole store file (checked as {@link openStoreFile} does) as text;
 * undefined when it does not exist. A file that cannot be read, or is too
 * big for one string, is `SnapshotCorruptError` naming it.
 */
export function readStoreTextSync(file: string): string | undefined {
  const opened = openStoreFileSync(file, "read");
  if (!opened) return undefined;
  let bytes: Buffer;
  try {
    bytes = readAllSync(opened.fd, opened.size);
  } catch (err) {
    throw readFailure(file, err);
  } finally {
    closeSync(opened.fd);
  }
  return bytesToText(bytes, file);
}

/** The whole content of the file `fd` (whose size was `size` when checked; a file that grew is read to its end). */
function readAllSync(fd: number, size: number): Buffer {
  // One byte more than the size, so that a file that did not grow is read in one call and seen to end.
  const first = Buffer.allocUnsafe(size + 1);
  let length = 0;
  for (;;) {
    const n = readSync(fd, first, length, first.length - length, null);
    if (n === 0) return first.subarray(0, length);
    length += n;
    if (length === first.length) return Buffer.concat([first, readFileSync(fd)]);
  }
}

/**
 * `bytes` as UTF-8 text; `SnapshotCorruptError` naming `file` when they are
 * too many for one string, or not valid UTF-8. Every store file is written
 * as UTF-8 (JSON escapes lone surrogates), so bytes that are not are damage:
 * decoding them anyway would put U+FFFD in place of the damaged bytes, and
 * the text could parse as a saved value silently changed. The check is one
 * pass over the bytes, on reads only.
 */
export function bytesToText(bytes: Buffer, file: string): string {
  if (!isUtf8(bytes)) throw new SnapshotCorruptError(file, "it is not valid UTF-8 text: a byte of it was damaged");
  try {
    return bytes.toString("utf8");
  } catch (err) {
    throw new SnapshotCorruptError(file, `it is too big to read as text (${bytes.length} bytes)`, { cause: err });
  }
}

/** The typed error for a store file that could not be read. */
export function readFailure(file: string, err: unknown): Error {
  if (err instanceof UnsafeStoreFileError || err instanceof SnapshotCorruptError) return err;
  return new SnapshotCorruptError(file, `it cannot be read: ${describe(err)}`, { cause: err });
}

/**
 * Why store folder `dir` cannot be used, or undefined when it can (or does
 * not exist yet: it is made at the first write). Followed if it is a link
 * (a store folder may be one); a file there, a file above it, or no
 * permission to read and write it is a problem.
 */
export function storeFolderProblem(dir: string): string | undefined {
  try {
    const stats = statSync(dir, { throwIfNoEntry: false });
    if (stats === undefined) return undefined;
    if (!stats.isDirectory()) return "it is not a folder (a file is there)";
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
    return undefined;
  } catch (err) {
    if (hasCode(err, "ENOTDIR")) return "a path above it is a file, not a folder";
    if (hasCode(err, "EACCES") || hasCode(err, "EPERM")) return "this process may not read and write it (" + describe(err) + ")";
    return describe(err);
  }
}

/**
 * `error`, or, when the store folder `dir` itself cannot be used, the
 * {@link StoreFolderError} saying why (with `error` as its cause): a call
 * that failed is looked into only then, so the way that works pays nothing.
 * A taskloom error other than a read failure is kept as it is.
 */
export function folderFailure(dir: string, error: unknown): unknown {
  if (error instanceof TaskloomError && !(error instanceof SnapshotCorruptError)) return error;
  const problem = storeFolderProblem(dir);
  return problem === undefined ? error : new StoreFolderError(dir, problem, { cause: error });
}
