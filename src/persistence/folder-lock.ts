/**
 * A lock between processes on one machine (or one shared file system): a
 * folder created with `mkdir`, which succeeds for exactly one caller. The
 * lease files of `LowdbStore` and the schedule files of
 * `FileScheduleStore` are read and written under such a lock. A lock
 * older than {@link LOCK_STALE_MS} is taken to be left by a process that
 * died holding it (holders keep it for milliseconds) and is broken.
 *
 * @module
 */
import { mkdir, rm, rmdir, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

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
    const since = await stat(path).then(
      (s) => s.mtimeMs,
      () => undefined,
    );
    if (since !== undefined && Date.now() - since > LOCK_STALE_MS) {
      await rm(path, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `taskloom: ${options.what} (${path}) is still held after ${LOCK_WAIT_MS} ms. ` +
          `If no process is using it, remove that folder and try again.`,
      );
    }
    await sleep(5 + Math.random() * 15);
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
