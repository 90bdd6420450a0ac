/**
 * The leases of a {@link LowdbStore}'s runs: `lease.json` in each run
 * folder says who drives the run, and `lease.lock` is held while a
 * process reads and rewrites it.
 *
 * Leases are decided under `lease.lock`, an empty file made with
 * `O_CREAT | O_EXCL` (atomic: exactly one process creates it) and
 * unlinked after (`folder-lock.ts`; earlier versions made a folder there,
 * which is waited for the same way). A lock older than 5 s is left over
 * from a crash and is broken. Lease calls join the run's queue too,
 * so within this process a takeover and a write of the same run are never
 * interleaved.
 *
 * Fencing. A write that carries the writer's lease is refused with
 * `LeaseLostError` unless `lease.json` still names that owner and token.
 * Every write (`append` and `writeSnapshot` alike) compares with the copy
 * this store last saw and only checks that the file is still that one
 * (one `lstat`: same inode, change time and size); a takeover granted by
 * this store replaces the copy, and a file rewritten by another process
 * (always through a rename, so with a new inode) fails the check, so both
 * are read and refused. The check and the write are not one atomic step
 * across processes: a takeover landing between them lets that one write
 * through, and the next write is refused.
 *
 * Costs. The files are read and written with synchronous calls
 * (`store-files.ts`, "Costs"); taking a lease on a new run is about a
 * dozen of them, giving it back half as many.
 *
 * Invariants: `lease.json` is replaced atomically and only under the
 * lease lock; the fencing copy of a run (`#fences`) is dropped before the
 * file is rewritten and set again after, so a failed write never leaves a
 * copy that names a lease the file does not hold. The calls here are made
 * inside the store's per-run queue (the store serializes them).
 *
 * @module
 */
import { lstatSync, unlinkSync } from "node:fs";
import { hostname } from "node:os";
import { ignoreCode, takeFileLock, type Unlock } from "./folder-lock.js";
import { RunLockedError } from "./errors.js";
import { canTakeOver, grantLease, leaseLost, stillHeld } from "./lease-rules.js";
import type { CancelRequest, Lease, LeaseRequest } from "./run-store.js";
import { checkLease } from "./snapshot-schema.js";
import { readDocumentSync } from "./stored-document.js";
import { writeFileAtomicSync } from "./atomic-file.js";
import { serialize } from "./serialization.js";
import type { RunFolders } from "./run-folder.js";

/** The lease files of the runs under one folder, with the fencing copies this store last saw. */
export class LeaseFiles {
  /** This host's name, as leases record it. */
  readonly host = hostname();
  readonly #folders: RunFolders;
  readonly #fsync: boolean;
  /** The lease each run's `lease.json` held when this store last wrote or read it, with that file's {@link fileStamp}. */
  readonly #fences = new Map<string, { readonly owner: string; readonly token: number; readonly stamp: string | undefined }>();

  constructor(folders: RunFolders, fsync: boolean) {
    this.#folders = folders;
    this.#fsync = fsync;
  }

  /** Grants the run's lease to `request` unless another live holder has it (`RunLockedError`). */
  async acquire(runId: string, request: LeaseRequest): Promise<Lease> {
    // A lease may come before the first snapshot: the folder is made here.
    const unlock = (await this.lock(runId, true)) as Unlock;
    try {
      const current = this.read(runId);
      if (current && !canTakeOver(current, request, this.host)) throw new RunLockedError(runId, current);
      const lease = grantLease(runId, request, current);
      this.#write(lease);
      return lease;
    } finally {
      await unlock();
    }
  }

  /** Extends `lease` to `now + ttlMs` while it is still the run's lease (`RunLockedError` otherwise). */
  async renew(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    const lost = (current: Lease | undefined) => new RunLockedError(lease.runId, current ?? { ...lease, expiresAt: now });
    const unlock = await this.lock(lease.runId, false);
    if (!unlock) throw lost(undefined);
    try {
      const current = this.read(lease.runId);
      if (!current || !stillHeld(current, lease)) throw lost(current);
      const renewed: Lease = { ...current, expiresAt: now + ttlMs };
      this.#write(renewed);
      return renewed;
    } finally {
      await unlock();
    }
  }

  /** Sets `cancelRequested` on the run's lease when it still has `request.token` (`RunStore.requestCancel`). */
  async requestCancel(runId: string, request: CancelRequest): Promise<boolean> {
    const unlock = await this.lock(runId, false);
    if (!unlock) return false;
    try {
      const current = this.read(runId);
      if (!current || current.token !== request.token) return false;
      this.#write({ ...current, cancelRequested: { token: request.token, reason: request.reason, at: request.at } });
      return true;
    } finally {
      await unlock();
    }
  }

  /** Removes the run's `lease.json` when `lease`'s owner still holds it. */
  async release(lease: Lease): Promise<void> {
    const unlock = await this.lock(lease.runId, false);
    if (!unlock) return;
    try {
      const current = this.read(lease.runId);
      if (current && current.owner === lease.owner) {
        this.#fences.delete(lease.runId);
        try {
          unlinkSync(this.#folders.files(lease.runId).lease);
        } catch (err) {
          ignoreCode("ENOENT")(err);
        }
      }
    } finally {
      await unlock();
    }
  }

  /** Forgets the fencing copy of a run (its folder is going away). */
  forget(runId: string): void {
    this.#fences.delete(runId);
  }

  /** Writes `lease.json` (under the lease lock) and remembers it for the fencing check. */
  #write(lease: Lease): void {
    const file = this.#folders.files(lease.runId).lease;
    this.#fences.delete(lease.runId);
    // Under the lease lock, just after `read` checked the folder.
    writeFileAtomicSync(file, serialize(lease), this.#fsync, true);
    this.#fences.set(lease.runId, { owner: lease.owner, token: lease.token, stamp: fileStamp(file) });
  }

  /**
   * Throws `LeaseLostError` unless `lease` is the run's current lease. A
   * lease this store last saw in a `lease.json` that is still the same
   * file passes without reading it.
   */
  fence(runId: string, lease: Lease): void {
    const file = this.#folders.files(runId).lease;
    const known = this.#fences.get(runId);
    // The stamp is taken before the read: if the file changes meanwhile, the next check reads it again.
    const stamp = fileStamp(file);
    if (known !== undefined && stamp !== undefined && known.stamp === stamp && stillHeld(known, lease)) return;
    const current = this.read(runId);
    if (current) this.#fences.set(runId, { owner: current.owner, token: current.token, stamp });
    else this.#fences.delete(runId);
    if (!stillHeld(current, lease)) throw leaseLost(lease, current);
  }

  /** The run's current lease, or undefined when it has none. */
  read(runId: string): Lease | undefined {
    return readDocumentSync<Lease>(this.#folders.files(runId).lease, checkLease) ?? undefined;
  }

  /**
   * Takes the run's lease lock; resolves to the function that gives it
   * back, or to undefined when the run has no folder and `create` is false.
   */
  async lock(runId: string, create: boolean): Promise<Unlock | undefined> {
    // The run folder is checked before a lock is made in it: through a planted link, even an empty lock folder lands elsewhere.
    if (!create && !this.#folders.verifySync(runId)) return undefined;
    return takeFileLock(this.#folders.files(runId).lock, {
      what: `the lease lock of run "${runId}"`,
      createParent: create ? () => this.#folders.ensure(runId) : undefined,
    });
  }
}

/**
 * What identifies one version of `file` cheaply (inode, change time, size),
 * or undefined when it does not exist. `lstat`: a link planted in place of
 * the lease is seen as a change, and the read that follows refuses it.
 */
function fileStamp(file: string): string | undefined {
  const s = lstatSync(file, { bigint: true, throwIfNoEntry: false });
  return s === undefined ? undefined : `${s.ino}:${s.ctimeNs}:${s.size}`;
}
