/**
 * A lock between processes on one machine (or one shared file system): a
 * name that exactly one caller can create. {@link takeFolderLock} makes a
 * folder with `mkdir` (the schedule files of `FileScheduleStore` are
 * written under one); {@link takeFileLock} makes an empty file with
 * `O_CREAT | O_EXCL` and gives it back with `unlink` (the lease files of
 * `LowdbStore`). Both are atomic; the file costs far less: on ext4 under
 * load a `mkdir` and `rmdir` pair takes milliseconds (a folder is an inode
 * and a block to allocate and free), a file made and unlinked tens of
 * microseconds. A file lock waits for a folder at its name too (the lock
 * an earlier version took) and breaks it once stale.
 *
 * A file lock can cost less still: given `linkFrom`, a file that exists
 * beside it anyway (the run's `lease.json`), it is taken as a second name
 * of that file with `link` (atomic the same way: it fails when the name
 * exists), and giving it back unlinks that name; no file is made or
 * freed. The lock's age is then the file's: `link` is used only when the
 * file was modified less than {@link LINK_LOCK_FRESH_MS} ago, so a lock
 * held for milliseconds is never judged stale, by this version or an
 * earlier one (both judge by the modification time). A caller that saw
 * the file's modification time less than that long ago says so
 * (`linkFromModifiedSince`), and the file is linked without a look: the
 * file there now is that one or one written since, never older. A lock
 * older than {@link LOCK_STALE_MS} is taken to be left by a process that died
 * holding it (holders keep it for milliseconds) and is broken. With
 * `refreshFrom`, an older file has its modification time set to now
 * first, so the lock is a link of it whatever its age, and no lock takes
 * an inode to make and free (on ext4, an inode freed slows every file
 * creation for minutes). The file is touched only when no lock is there
 * (`lstat`): a lock left by a dead holder as a link of that file is never
 * made to look young again, so it still goes stale; a lock taken between
 * the look and the touch is made younger by at most the time between them.
 *
 * Breaking a stale lock. Two waiters can both judge one lock stale; if
 * each then removed "the lock", the second would remove the fresh lock a
 * third process took in between, and two processes would hold it. So a
 * lock is broken only under a second lock (`<path>.break`, also a
 * folder made with `mkdir`), after checking again, under it, that the
 * lock is still there and still stale. The break lock is held for two
 * system calls; one left by a process that died inside them is stale after
 * {@link LOCK_STALE_MS} like any lock and is removed without a further lock
 * (a race then needs a crash in that window and two waiters at once).
 *
 * The lock path is looked at with `lstat`: a symbolic link in its place
 * (or, for a folder lock, a file) was not made by taskloom and is never
 * followed or removed (`UnsafeStoreFileError`).
 *
 * Costs. Taking and giving back a free lock is two synchronous calls
 * (`mkdir` and `rmdir`; `open` and `unlink`; with `linkFrom`, `lstat`
 * (none with a recent `linkFromModifiedSince`), `link` and `unlink`, and
 * for an older file with `refreshFrom`, an `lstat` of the lock and a
 * `lutimes` more): the thread pool would cost
 * more than the calls.
 * Only the wait between two tries of a held lock is asynchronous.
 *
 * @module
 */
import { closeSync, constants, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, rmdirSync, rmSync, unlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { UnsafeStoreFileError } from "./errors.js";

/** A lock folder older than this (ms) was left by a dead process. */
export const LOCK_STALE_MS = 5_000;

/**
 * A file modified less than this long ago (ms) may stand as a lock
 * ({@link FolderLockOptions.linkFrom}): taken now, it is judged stale only
 * after being held for {@link LOCK_STALE_MS} minus this.
 */
export const LINK_LOCK_FRESH_MS = 1_000;

/**
 * How long to wait for a lock (ms). Longer than {@link LOCK_STALE_MS}, so
 * that a stale lock is always broken before a waiter gives up.
 */
export const LOCK_WAIT_MS = LOCK_STALE_MS + 1_000;

/** Gives a lock back. */
export type Unlock = () => Promise<void>;

/**
 * Gives a file lock back; `linked` says it was taken as a second name of
 * {@link FolderLockOptions.linkFrom} (so that file has one more link
 * while it is held), not made as an empty file.
 */
export type FileUnlock = Unlock & { readonly linked: boolean };

/** How {@link takeFolderLock} behaves. */
export interface FolderLockOptions {
  /** Creates the folder that holds the lock folder, when it is missing; without it, a missing folder gives undefined. */
  readonly createParent?: (() => Promise<void>) | undefined;
  /** What the lock guards, for the error when it stays held (e.g. "the lease lock of run x"). */
  readonly what: string;
  /**
   * {@link takeFileLock} only: a file beside the lock to take the lock as
   * a second name of (`link`), instead of making a new file, when it was
   * modified less than {@link LINK_LOCK_FRESH_MS} ago (see the module
   * comment); otherwise (or when it is missing, or the file system has no
   * hard links) the lock is made as an empty file.
   */
  readonly linkFrom?: string | undefined;
  /**
   * With {@link FolderLockOptions.linkFrom}: when the file is older than
   * {@link LINK_LOCK_FRESH_MS} and no lock is there, set its modification
   * time to now and take the lock as a link of it all the same (see the
   * module comment); for a file whose modification time only the lock
   * and its fencing readers use (the run's `lease.json`).
   */
  readonly refreshFrom?: boolean | undefined;
  /**
   * With {@link FolderLockOptions.linkFrom}: the caller knows that the
   * file there, whichever it is now, was modified at or after this time
   * (epoch ms), since it saw it then and writers only replace it by a
   * newer file or write it in place. When that is less than
   * {@link LINK_LOCK_FRESH_MS} ago, the lock is linked without a look at
   * the file first (one `lstat` fewer per lease call of a run that took
   * or renewed its lease within the second).
   */
  readonly linkFromModifiedSince?: number | undefined;
}

/**
 * Takes the lock `path` (a folder that must not exist yet); resolves to the
 * function that gives it back, or to undefined when its parent folder is
 * missing and there is no `createParent`. Throws when the lock stays held
 * for {@link LOCK_WAIT_MS}.
 *
 * @example
 * ```ts
 * const unlock = await takeFolderLock(join(dir, "lease.lock"), { what: "the lease lock" });
 * try { … } finally { await unlock?.() }
 * ```
 */
export async function takeFolderLock(path: string, options: FolderLockOptions): Promise<Unlock | undefined> {
  return takeLock(path, options, "folder");
}

/**
 * Takes the lock `path` as an empty file (mode 0600) made with `O_CREAT |
 * O_EXCL | O_NOFOLLOW`, as {@link takeFolderLock} does with a folder; a
 * folder at `path` (a lock taken by an earlier version) is waited for and
 * broken once stale like a file.
 *
 * @example
 * ```ts
 * const unlock = await takeFileLock(join(dir, "lease.lock"), { what: "the lease lock" });
 * try { … } finally { await unlock?.() }
 * ```
 */
export async function takeFileLock(path: string, options: FolderLockOptions): Promise<FileUnlock | undefined> {
  return (await takeLock(path, options, "file")) as FileUnlock | undefined;
}

const FILE_LOCK_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK;

async function takeLock(path: string, options: FolderLockOptions, kind: LockKind): Promise<Unlock | undefined> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      if (kind === "folder") {
        mkdirSync(path, { mode: 0o700 });
        return async () => removeFolder(path);
      }
      const linked = options.linkFrom !== undefined && linkLock(options.linkFrom, path, options.refreshFrom === true, options.linkFromModifiedSince);
      if (!linked) closeSync(openSync(path, FILE_LOCK_FLAGS, 0o600));
      return Object.assign(async () => removeFile(path), { linked });
    } catch (err) {
      if (hasCode(err, "ENOENT")) {
        if (!options.createParent) return undefined;
        if (Date.now() > deadline) throw err;
        await options.createParent();
        continue;
      }
      // ELOOP: O_NOFOLLOW met a symbolic link at the lock's name; staleLockAge refuses it below.
      if (!hasCode(err, "EEXIST") && !hasCode(err, "ELOOP")) throw err;
    }
    if (staleLockAge(path, kind)) {
      breakStaleLock(path, kind);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`taskloom: ${options.what} (${path}) is still held after ${LOCK_WAIT_MS} ms. ` + `If no process is using it, remove it and try again.`);
    }
    await sleep(5 + Math.random() * 15);
  }
}

/**
 * Takes the lock `path` as a hard link to `from` when `from` is a regular
 * file modified less than {@link LINK_LOCK_FRESH_MS} ago (with `refresh`,
 * an older one once touched, when no lock is there): true when taken,
 * false when it cannot be (the caller makes a file instead); EEXIST when
 * the lock is held. A file replaced between the look and the link is
 * replaced by a newer one (writers rename a file they have just written),
 * so the lock is never older than it was judged; for the same reason a
 * file known to be modified no earlier than `modifiedSince`, less than
 * {@link LINK_LOCK_FRESH_MS} ago, is linked without a look (a link or
 * something else planted there instead is linked as itself, and the
 * caller's read of `from` under the lock refuses it).
 */
function linkLock(from: string, path: string, refresh: boolean, modifiedSince: number | undefined): boolean {
  // A modification time in the future (a clock set back) would make the lock look younger than it is.
  const now = Date.now();
  if (modifiedSince !== undefined && isFresh(now - modifiedSince)) return linkOrFalse(from, path);
  const stats = lstatSync(from, { throwIfNoEntry: false });
  if (stats === undefined || !stats.isFile()) return false;
  const age = now - stats.mtimeMs;
  if (!isFresh(age)) {
    if (!refresh) return false;
    // A lock there (perhaps a link of this very file, left by a dead holder) is never made younger: judged as held.
    if (lstatSync(path, { throwIfNoEntry: false }) !== undefined) throw Object.assign(new Error(`${path} exists`), { code: "EEXIST" });
    try {
      // lutimes: never through a link put there meanwhile (the link below then fails or links the link, refused as a lock).
      lutimesSync(from, stats.atimeMs / 1000, now / 1000);
    } catch {
      // Gone (ENOENT), not ours to touch (EPERM), a read-only file system: a file is made instead.
      return false;
    }
  }
  return linkOrFalse(from, path);
}

/** Whether a file of this age (ms; negative: modified in the future) may stand as a lock. */
function isFresh(age: number): boolean {
  return age < LINK_LOCK_FRESH_MS && age >= -LINK_LOCK_FRESH_MS;
}

/** Links `path` to `from`: true when linked, false when `from` cannot be (the caller makes a file); EEXIST when the lock is held. */
function linkOrFalse(from: string, path: string): boolean {
  try {
    linkSync(from, path);
    return true;
  } catch (err) {
    if (hasCode(err, "EEXIST")) throw err;
    // ENOENT: replaced meanwhile by nothing (or no folder: the file lock then says so); EPERM, ENOTSUP…: no hard links here.
    return false;
  }
}

/** What a lock is made of: a folder, or (besides a folder left by an earlier version) a file. */
type LockKind = "folder" | "file";

/**
 * True when the lock `path` exists and is older than {@link LOCK_STALE_MS}.
 * Throws `UnsafeStoreFileError` when something a lock of this kind cannot
 * be stands in its place (a symbolic link; a file, for a folder lock).
 */
function staleLockAge(path: string, kind: LockKind): boolean {
  const stats = lstatSync(path, { throwIfNoEntry: false });
  if (stats === undefined) return false;
  if (!stats.isDirectory() && !(kind === "file" && stats.isFile()))
    throw new UnsafeStoreFileError(path, "a lock must be a folder, and this is not (a link or a file put there)");
  return Date.now() - stats.mtimeMs > LOCK_STALE_MS;
}

/** Removes the stale lock `path` under its break lock, if it is still there and still stale (see the module comment). */
function breakStaleLock(path: string, kind: LockKind): void {
  const breaker = `${path}.break`;
  try {
    mkdirSync(breaker, { mode: 0o700 });
  } catch (err) {
    if (!hasCode(err, "EEXIST")) throw err;
    // Another waiter is breaking it; a break lock left by a dead process is removed once stale.
    if (staleLockAge(breaker, "folder")) removeFolder(breaker);
    return;
  }
  try {
    // rm removes a file or a folder, and never follows a link (staleLockAge refuses one).
    if (staleLockAge(path, kind)) rmSync(path, { recursive: true, force: true });
  } finally {
    removeFolder(breaker);
  }
}

/** Removes an empty lock folder; one already gone is no error. */
function removeFolder(path: string): void {
  try {
    rmdirSync(path);
  } catch (err) {
    ignoreCode("ENOENT")(err);
  }
}

/** Removes a lock file; one already gone is no error. */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    ignoreCode("ENOENT")(err);
  }
}

/** True when `err` is a Node.js system error with this code. */
export function hasCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}

/** A `catch` handler that ignores errors with this code and rethrows others. */
export function ignoreCode(code: string): (err: unknown) => void {
  return (err) => {
    if (!hasCode(err, code)) throw err;
  };
}
