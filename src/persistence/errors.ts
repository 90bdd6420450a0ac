/**
 * Errors of stores: a run held by another driver's lease
 * ({@link RunLockedError}), a stored file that cannot be read
 * ({@link SnapshotCorruptError}), a store file taskloom will not trust
 * ({@link UnsafeStoreFileError}) and a store folder that cannot be used
 * at all ({@link StoreFolderError}). The errors a save fails with
 * (`PersistenceError`, `LeaseLostError`, `ValueNotStorableError`) live with
 * the engine, which handles them (`src/engine/errors.ts`).
 *
 * @module
 */
import { TaskloomError } from "../errors.js";
import type { LeaseHolder } from "../state/lease-holder.js";

/**
 * Another driver holds the run's lease: two processes never drive one run.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof RunLockedError) console.log(e.holder.pid, e.holder.host) }
 * ```
 */
export class RunLockedError extends TaskloomError {
  /** The run. */
  readonly runId: string;
  /** The current holder. */
  readonly holder: LeaseHolder;

  constructor(runId: string, holder: LeaseHolder) {
    super(
      "RUN_LOCKED",
      `run "${runId}" is held by pid ${holder.pid} on host ${holder.host} until ${new Date(holder.expiresAt).toISOString()}. ` +
        `Wait for that process to finish, or for the lease to expire, then call runAsync again.`,
    );
    this.runId = runId;
    this.holder = holder;
  }
}

/**
 * A stored snapshot or journal cannot be read. The file is left untouched.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof SnapshotCorruptError) console.error("inspect", e.file) }
 * ```
 */
export class SnapshotCorruptError extends TaskloomError {
  /** The file that could not be read. */
  readonly file: string;

  constructor(file: string, detail: string, options?: { cause?: unknown }) {
    super(
      "SNAPSHOT_CORRUPT",
      `the stored run file ${file} cannot be read (${detail}). It was left as it is: restore it from a backup, or delete the run and start again.`,
      options,
    );
    this.file = file;
  }
}

/**
 * A store file or folder is not one taskloom can trust: a symbolic link,
 * not a plain file or folder, or owned by another user. Something other
 * than taskloom put it in the store folder (on a shared folder, perhaps
 * to make this process write elsewhere); nothing was read or written
 * through it.
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof UnsafeStoreFileError) console.error("inspect", e.file) }
 * ```
 */
export class UnsafeStoreFileError extends TaskloomError {
  /** The file or folder refused. */
  readonly file: string;

  constructor(file: string, problem: string) {
    super(
      "UNSAFE_STORE_FILE",
      `refused to use ${file}: ${problem}. taskloom never makes such a file; nothing was read or written through it. ` +
        `Find out who put it there, remove it, and try again.`,
    );
    this.file = file;
  }
}

/**
 * The store folder itself cannot be used: a file is where the folder
 * should be, a folder above it is a file, or this process may not read
 * and write it. Nothing in it was read or changed. Raised by `LowdbStore`
 * when a call fails and a look at its folder says why (the look is made
 * only after a failure).
 *
 * @example
 * ```ts
 * catch (e) { if (e instanceof StoreFolderError) console.error(`fix ${e.dir}, or point dir elsewhere`) }
 * ```
 */
export class StoreFolderError extends TaskloomError {
  /** The store folder. */
  readonly dir: string;

  constructor(dir: string, problem: string, options?: { cause?: unknown }) {
    super(
      "STORE_FOLDER_UNUSABLE",
      `the store folder ${dir} cannot be used: ${problem}. Nothing in it was read or changed. ` +
        `Point the store's dir (or TASKLOOM_DIR) at a folder this process can read and write, or fix that one.`,
      options,
    );
    this.dir = dir;
  }
}
