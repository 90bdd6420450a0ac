/**
 * A lock between processes on one machine (or one shared file system): a
 * folder created with `mkdir`, which succeeds for exactly one caller. The
 * lease files of `LowdbStore` and the schedule files of
 * `FileScheduleStore` are read and written under such a lock. A lock
 * older than {@link LOCK_STALE_MS} is taken to be left by a process that
 * died holding it (holders keep it for milliseconds) and is broken.
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
 * The lock path is looked at with `lstat`: a symbolic link or a file in
 * its place was not made by taskloom and is never followed or removed
 * (`UnsafeStoreFileError`).
 *
 * @module
 */
import { lstat, mkdir, rm, rmdir } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { UnsafeStoreFileError } from "./errors.js";

/** A lock folder older than this (ms) was left by a dead process. */
export const LOCK_STALE_MS = 5_000;

/**
 * How long to wait for a lock (ms). Longer than {@link LOCK_STALE_MS}, so
 * that a stale lock is always broken before a waiter gives up.
 */
export const LOCK_WAIT_MS = LOCK_STALE_MS + 1_000;

/** Gives a lock back. */
export type Unlock = () => Promise<void>;

/** How {@link takeFolderLock} behaves. */
export interface FolderLockOptions {
  /** Creates the folder that holds the lock folder, when it is missing; without it, a missing folder gives undefined. */
  readonly createParent?: (() => Promise<void>) | undefined;
  /** What the lock guards, for the error when it stays held (e.g. "the lease lock of run x"). */
  readonly what: string;
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
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await mkdir(path, { mode: 0o700 });
      return () => rmdir(path).catch(ignoreCode("ENOENT"));
    } catch (err) {
      if (hasCode(err, "ENOENT")) {
        if (!options.createParent) return undefined;
        if (Date.now() > deadline) throw err;
        await options.createParent();
        continue;
      }
      if (!hasCode(err, "EEXIST")) throw err;
    }
    if (await staleLockAge(path)) {
      await breakStaleLock(path);
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `taskloom: ${options.what} (${path}) is still held after ${LOCK_WAIT_MS} ms. ` + `If no process is using it, remove that folder and try again.`,
      );
    }
    await sleep(5 + Math.random() * 15);
  }
}

/**
 * True when the lock folder `path` exists and is older than
 * {@link LOCK_STALE_MS}. Throws `UnsafeStoreFileError` when something
 * other than a folder (a symbolic link, a file) stands in its place.
 */
async function staleLockAge(path: string): Promise<boolean> {
  let stats;
  try {
    stats = await lstat(path);
  } catch (err) {
    if (hasCode(err, "ENOENT")) return false;
    throw err;
  }
  if (!stats.isDirectory()) throw new UnsafeStoreFileError(path, "a lock must be a folder, and this is not (a link or a file put there)");
  return Date.now() - stats.mtimeMs > LOCK_STALE_MS;
}

/** Removes the stale lock `path` under its break lock, if it is still there and still stale (see the module comment). */
async function breakStaleLock(path: string): Promise<void> {
  const breaker = `${path}.break`;
  try {
    await mkdir(breaker, { mode: 0o700 });
  } catch (err) {
    if (!hasCode(err, "EEXIST")) throw err;
    // Another waiter is breaking it; a break lock left by a dead process is removed once stale.
    if (await staleLockAge(breaker)) await rmdir(breaker).catch(ignoreCode("ENOENT"));
    return;
  }
  try {
    if (await staleLockAge(path)) await rm(path, { recursive: true, force: true });
  } finally {
    await rmdir(breaker).catch(ignoreCode("ENOENT"));
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
