/**
 * What a run's `lease.json` holds, for `lowdb-leases.ts`: a lease, a
 * lease given back and left in place ({@link GivenBack}), or nothing.
 *
 * Giving a lease back in place. Without `fsync`, a `LowdbStore` gives a
 * lease back by overwriting `lease.json`, under the lease lock, with the
 * same lease marked `released: true` and expired (`expiresAt: 0`), not by
 * removing the file: removing it frees an inode, and on ext4 every file
 * created in the next minutes pays for each inode freed lately (the
 * kernel skips them one by one), so a store running thousands of short
 * runs slowed itself, and every other writer, down. The write is
 * `small-file.ts`'s: one `pwrite` within the first page, which a SIGKILL
 * leaves all old or all new. The lease lock may be a second name of the
 * file (`folder-lock.ts`, `linkFrom`); a second name is allowed then, and
 * only then. The new text is always longer than the file was, so a copy
 * of the live lease that a store keeps for fencing (inode, modification
 * time, size), in any process, sees a new size even within one tick of the
 * clock. A read racing the write may see a mix: a file that does not parse
 * is read once more before it counts as corrupt.
 *
 * Left blank by a power loss. A new run's lease is written to its temp
 * file and linked to `lease.json` without a flush of its content
 * (`lowdb-leases.ts`, "Flushes"), so after a power loss `lease.json` may
 * be empty or hold only zero bytes (`stored-document.ts`,
 * `readDocumentOrBlankSync`). Such a file reads as a lease given back: its
 * holder died with the machine, and no store ever writes such a file
 * itself. Without `fsync`, every file may be left so; a run whose
 * `lease.json` was blank used to be refused as corrupt until someone
 * removed the file.
 *
 * A released lease reads as no lease: `readLease` gives undefined, it
 * fences every write off, cannot be renewed or cancelled, and the next
 * acquire takes it under the lock as a free lease, writing its own by
 * rename, with the token after the released one ({@link GivenBack}): a
 * cancel request addressed to the holder that gave it back never reaches
 * the next one, and the old lease's writes stay fenced off even when the
 * same owner takes the run again (as in a run file, `run-file-leases.ts`).
 * A file left blank by a power loss keeps no token (the next is 1): every
 * process of the boot that could hold an older one is gone. An earlier
 * version sees an expired lease, which every version takes over
 * (`lease-rules.ts`, `canTakeOver`).
 *
 * @module
 */
import { writeFileAtomicSync } from "./atomic-file.js";
import { UnsafeStoreFileError } from "./errors.js";
import type { Lease } from "./run-store.js";
import { serialize } from "./serialization.js";
import { overwriteKeptSync, overwriteSmallFileSync, type KeptFile } from "./small-file.js";
import { checkLease } from "./snapshot-schema.js";
import { BLANK, readRewrittenDocumentSync } from "./stored-document.js";

/**
 * What {@link readLeaseFileSync} gives for a `lease.json` that holds a
 * lease given back: nobody holds the run, and the next lease's token is
 * above `token` (0 for a file a power loss left blank).
 */
export interface GivenBack {
  readonly givenBack: true;
  /** The token of the lease given back. */
  readonly token: number;
}

/** What {@link readLeaseFileSync} gives for a `lease.json` a power loss left blank: given back, its token unknown. */
export const BLANK_LEASE: GivenBack = { givenBack: true, token: 0 };

/** What a run's `lease.json` holds: a lease, a lease given back ({@link GivenBack}), or nothing (no file). */
export type LeaseFound = Lease | GivenBack | undefined;

/** A lease as stored: given back when `released` is true. */
type StoredLease = Lease & { readonly released?: unknown };

/** The lease in `found`, or undefined when there is none or it was given back. */
export function held(found: LeaseFound): Lease | undefined {
  return found === undefined || isGivenBack(found) ? undefined : found;
}

/** Whether `found` is a lease given back (no lease: see {@link held}). */
export function isGivenBack(found: Lease | GivenBack): found is GivenBack {
  return (found as Partial<GivenBack>).givenBack === true;
}

/** The highest token `found` names, held or given back (0: none): the next lease's is above it. */
export function topToken(found: LeaseFound): number {
  return found === undefined ? 0 : found.token;
}

/**
 * Reads `file` (a run's `lease.json`). A file that does not parse is read
 * once more before it counts as corrupt (`SnapshotCorruptError`): a read
 * racing {@link markReleasedSync} may see a mix of the two versions. An
 * empty file, or one of zero bytes only, is what a power loss left of a
 * lease: {@link BLANK_LEASE} (see the module comment). With
 * `folderChecked`, the caller has just checked the run's folder.
 *
 * @example
 * ```ts
 * const current = held(readLeaseFileSync(files.lease)); // undefined: nobody holds the run
 * ```
 */
export function readLeaseFileSync(file: string, folderChecked = false): LeaseFound {
  const stored = readRewrittenDocumentSync<StoredLease>(file, checkLease, folderChecked);
  if (stored === null) return undefined;
  // What a power loss left of a lease whose content never reached the disk: its holder died with the machine.
  if (stored === BLANK) return BLANK_LEASE;
  return stored.released === true ? { givenBack: true, token: stored.token } : stored;
}

/**
 * Overwrites `file` (a run's `lease.json`, which holds `current`) in place
 * with `current` given back; the caller holds the lease lock, taken as a
 * second name of `file` when `lockLinked`. False, with nothing written,
 * when that cannot be done (no file, a page too small, a planted second
 * name): the caller removes the file instead, which writes nothing
 * anywhere.
 *
 * @example
 * ```ts
 * if (!markReleasedSync(files.lease, current, unlock.linked)) unlinkSync(files.lease);
 * ```
 */
export function markReleasedSync(file: string, current: Lease, lockLinked: boolean): boolean {
  try {
    return overwriteSmallFileSync(file, releasedText(current), { grow: true, maxLinks: lockLinked ? 2 : 1 });
  } catch (err) {
    if (err instanceof UnsafeStoreFileError) return false;
    throw err;
  }
}

/**
 * {@link markReleasedSync} through a descriptor kept open since the
 * caller made the file (`lease-publish.ts`), which the caller has just
 * found to still be `lease.json` with at most the names allowed (its
 * `lstat`, under the lease lock): one `pwrite`, no open, check or close.
 * False, with nothing written, when it cannot be written in place.
 * @example
 * ```ts
 * if (!markReleasedKeptSync(kept, current)) markReleasedSync(files.lease, current, unlock.linked);
 * ```
 */
export function markReleasedKeptSync(kept: KeptFile, current: Lease): boolean {
  return overwriteKeptSync(kept, releasedText(current), true);
}

/**
 * Replaces `file` (a run's `lease.json`, which holds `current`) with
 * `current` given back, through a temp file renamed over it: the caller
 * holds the lease lock, and could not write the file in place (with
 * `fsync`, where a power loss could tear a write in place; or no page to
 * write it in). Neither the content nor the rename is flushed: a power
 * loss leaves the lease held by a dead holder (its expiry frees it), or
 * given back, or blank (given back, its token unknown; see the module
 * comment).
 *
 * @example
 * ```ts
 * if (!markReleasedSync(files.lease, current, unlock.linked)) writeReleasedSync(files.lease, current);
 * ```
 */
export function writeReleasedSync(file: string, current: Lease): void {
  writeFileAtomicSync(file, releasedText(current), false, true);
}

/** `current` given back, as stored. */
function releasedText(current: Lease): string {
  // `runId` (a lease's first key) before the spread: a literal that starts with a spread and adds a key gets a hidden
  // class of its own each time in V8 11 (docs/architecture.md, "Hidden classes").
  const released: StoredLease = { runId: current.runId, ...(current as Omit<Lease, "runId">), expiresAt: 0, released: true };
  return serialize(released);
}
