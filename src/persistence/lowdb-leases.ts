/**
 * Why this file is 434 lines (225 of them comments: this one, 139 lines,
 * and the argument at each call; 209 of code): it is one concept, the
 * lease file of a run and the fencing copy this store keeps of it. Every
 * lease call (acquire, renew, cancel, release) and every fenced write
 * reads and replaces the same private copy (`#fences`) and the kept
 * descriptors, and the argument that a write is never let through wrongly
 * (below, "Fencing") spans the check and every call that changes the
 * file: split by call, each part would need that map and argument handed to it.
 * What stands alone is elsewhere: the lock (`folder-lock.ts`), the rules
 * (`lease-rules.ts`), the file's content (`lease-file.ts`), how long a
 * look is trusted (`lease-trust.ts`), making `lease.json` only if it is
 * absent (`lease-publish.ts`), what one look at it finds and the fencing
 * copy made of it (`lease-look.ts`), and the files kept open from their
 * making to their release (`kept-leases.ts`). The twenty-seventh pass
 * added about 10 lines, both parts of that argument: a lease given back
 * keeps its token (the next grant is above it), and a lease given back by
 * another store object of the process ends this one's trust
 * (`run-folder-changes.ts`). The twenty-eighth pass changed one check of
 * that argument and no line: a release gives back only the lease it
 * names, owner and token, as every store's does (`stillHeld`).
 *
 * The leases of a {@link LowdbStore}'s runs: `lease.json` in each run
 * folder says who drives the run (no file, or a lease marked released:
 * nobody), and `lease.lock` is
 * held while a process reads and rewrites it (a second name of
 * `lease.json`, touched first when older than a second, or an empty file
 * when there is none: `folder-lock.ts`, `refreshFrom`).
 *
 * Leases are decided under `lease.lock`, an empty file made with
 * `O_CREAT | O_EXCL` (atomic: exactly one process creates it) and
 * unlinked after (`folder-lock.ts`; earlier versions made a folder there,
 * which is waited for the same way). A lock older than 5 s is left over
 * from a crash and is broken. Lease calls join the run's queue too,
 * so within this process a takeover and a write of the same run are never
 * interleaved.
 *
 * Taking a free lease. A run without `lease.json` (a new run, or one whose
 * driver gave it back in an earlier version) gets its lease without the
 * lock: `lease.json` is made with `O_CREAT | O_EXCL` (of two processes,
 * one makes it, the other is told and goes through the lock) and the
 * lease written into it (`lease-publish.ts`). Every writer that finds no
 * lease publishes it that way, under the lock too, so a lease published
 * without the lock is never overwritten by one that decided "free" before
 * it. Only a process that took the lock before the file was made could
 * still act on what it read then (a previous version renaming its own free
 * lease into place; `delete` moving the folder away), or one that read the
 * new file in the instant it was still empty, which reads as a lease given
 * back (`lease-publish.ts`) and is taken only under the lock, by rename.
 * Such a process holds the lock from its read to its write, so after the
 * write the lock is looked at (`lstat`), and then `lease.json` (still the
 * file made?), in that order: a lock seen, or a `lease.json` that is not
 * the file made, sends the acquire through the lock, which judges the
 * lease found there as any other (the published lease, kept when still
 * there). A process killed between the open and the write leaves an empty
 * `lease.json`: a run whose holder is gone, as a power loss leaves one. A
 * run whose `lease.json` holds a lease given back gets its lease under the
 * lock, by rename, as if it had none, with the token after the one given
 * back (`lease-rules.ts`, `grantOver`).
 *
 * Giving a lease back. Without `fsync`, `lease.json` is not removed but
 * marked released in place, under the lock (`lease-file.ts`: a run's
 * normal life then frees no inode); it reads as no lease. With `fsync`, or
 * when it cannot be written in place, the lease given back replaces it by
 * rename: never removed, since its token is the floor of the next
 * holder's. Other store objects of this process that hold the same lease
 * are told (`run-folder-changes.ts`), so their trust in a look from before
 * ends.
 *
 * Fencing. A write that carries the writer's lease is refused with
 * `LeaseLostError` unless `lease.json` still names that owner and token.
 * Every write (`append` and `writeSnapshot` alike) compares with the copy
 * this store last saw and only checks that the file is still that one
 * (one `lstat`: same inode, modification time and size; not the change
 * time, which a link taken as the lock changes); a takeover granted by
 * this store replaces the copy, and a file rewritten by another process
 * (always a new inode: a rename or an exclusive create) fails the check, so both are
 * read and refused. The check and the write are not one atomic step
 * across processes: a takeover landing between them lets that one write
 * through, and the next write is refused. Under the lock, renewing,
 * giving back and cancelling use the same copy while the file passes that
 * check, instead of reading it. The same file marked released in place
 * is longer than the lease it held, so the check sees that change too.
 *
 * Trusted for 50 ms. A write skips the `lstat` when this store
 * saw the file unchanged very recently and the lease is far from expiry;
 * a takeover of another owner's lease waits before it returns, so the old
 * holder's next write still looks. The rule, and why it is as safe as a
 * look before every write, is `lease-trust.ts`.
 *
 * Costs. The files are read and written with synchronous calls
 * (`store-files.ts`, "Costs"); making a file is what costs most (40 µs on
 * a quiet ext4 disk, hundreds under load; a `link` or an `unlink` costs a
 * fifth of it, an `lstat` or a small read far less), so a lease call makes
 * as few as it can. Taking a free lease is six calls and one file made
 * (`lease.json` itself, kept open until the lease is given back; three
 * fewer than when it was a temp file linked to its name and closed, issue
 * 16); giving back a lease taken or renewed less than a second ago six
 * calls and no file: the lock is a link of `lease.json`, made without a
 * look at the file first (the fencing copy says when it was modified),
 * one `lstat` that finds it still the file of the fencing copy, which
 * spares reading it, the lease marked released with one `pwrite` through
 * the descriptor kept since this store made the file (when it did, without
 * `fsync`: else an `open`, an `fstat`, the `pwrite` and a `close`), its
 * `close`, and the unlink of the lock; nothing is freed. Renewing one such
 * lease is twelve calls and one file
 * (the temp file renamed over `lease.json`). An older lease costs two
 * calls more for the lock (an `lstat` of it and a `lutimes` of the lease,
 * whose new modification time makes this store read it once more), not a
 * file made and freed. The run folder is looked at once per lease call
 * (`run-folder.ts`, "Checked once"), not before every write.
 *
 * Flushes (with `fsync`). A lease is no result of the run: it says who may
 * drive it while this machine is up, and a power loss kills its holder.
 * A free lease taken (`lease.json` made exclusively) is flushed neither
 * in its content nor in its name: after a power loss
 * `lease.json` is absent (the run is free), whole (it names a holder of
 * another boot, which lease-rules lets wait out its expiry, as it would
 * after a flush), or, when its name reached the disk before its content
 * (a new run's snapshot flushes the folder just after), empty or zeros,
 * which reads as a lease given back (`lease-file.ts`): free. Each of the
 * three is a run whose holder is gone, as the flushes gave before: they
 * only kept the third from being read as corrupt, at two flushes (a
 * content flush and, before that was spared, a folder flush) at every
 * run's start. A lease replaced under the lock (take-over, renewal, a
 * cancel request, which a caller is told was recorded) is still flushed,
 * content and folder.
 *
 * Invariants: `lease.json` is replaced (renamed over), marked released in
 * place or removed only under the lease lock, and made without the lock
 * only by an exclusive create that fails when it exists; it is written
 * in place only to mark it released (through the descriptor kept since
 * this store made it, or opened by path), and then grows; the fencing copy of a run (`#fences`) is dropped
 * before the file is written and set again after, so a failed write never
 * leaves a copy that names a lease the file does not hold. The calls here
 * are made inside the store's per-run queue (the store serializes them).
 *
 * @module
 */
import { thisHost } from "../core/host.js";
// Imported, not the global (a getter, a call at every fenced write).
import { performance } from "node:perf_hooks";
import { takeFileLock, type FileUnlock } from "./folder-lock.js";
import { RunLockedError } from "./errors.js";
import { canTakeOver, cancelReaches, grantLease, grantOver, keptCancel, leaseLost, stillHeld } from "./lease-rules.js";
import { outlastTrust, trusted } from "./lease-trust.js";
import type { CancelRequest, Lease, LeaseRequest } from "./run-store.js";
import { writeFileAtomicSync } from "./atomic-file.js";
import { KeptLeases } from "./kept-leases.js";
import { fenceOf, fileLook, lookAfterPublish, modifiedMs, sameVersion, type Fence, type FileLook } from "./lease-look.js";
import { publishIfAbsent } from "./lease-publish.js";
import { serialize } from "./serialization.js";
import type { RunFolders } from "./run-folder.js";
import type { RunFolderChanges } from "./run-folder-changes.js";
import { held, markReleasedSync, readLeaseFileSync, topToken, writeReleasedSync, type LeaseFound } from "./lease-file.js";

/** The lease files of the runs under one folder, with the fencing copies this store last saw. */
export class LeaseFiles {
  /** This host's name, as leases record it. */
  readonly host = thisHost();
  readonly #folders: RunFolders;
  readonly #fsync: boolean;
  /** What each run's `lease.json` held when this store last wrote or read it, with that file's {@link fileLook}. */
  readonly #fences = new Map<string, Fence>();
  /** The `lease.json` files this store made for free leases, kept open until each is given back (`kept-leases.ts`). */
  readonly #kept = new KeptLeases();
  /** Leases given back and runs deleted by the store objects of this process (`run-folder-changes.ts`). */
  readonly #changes: RunFolderChanges;

  constructor(folders: RunFolders, fsync: boolean, changes: RunFolderChanges) {
    this.#folders = folders;
    this.#fsync = fsync;
    this.#changes = changes;
  }

  /**
   * Grants the run's lease to `request` unless another live holder has it
   * (`RunLockedError`). A run without a lease gets one without the lease
   * lock when nothing races it (see the module comment, "Taking a free
   * lease"); otherwise the lease is decided under the lock.
   */
  async acquire(runId: string, request: LeaseRequest): Promise<Lease> {
    // A lease may come before the first snapshot: the folder is made (or checked: every lease call looks at it) here.
    const made = this.#folders.ensureSync(runId, true);
    // A folder made just now had no lease: one published since by a racer makes the exclusive create fail, and the lock decides.
    if (made || this.#current(runId) === undefined) {
      const lease = grantLease(runId, request, undefined);
      if (this.#publishUnlocked(lease)) return lease;
    }
    const unlock = (await this.lock(runId, true)) as FileUnlock;
    try {
      for (;;) {
        const found = this.#current(runId);
        const current = held(found);
        if (current && !canTakeOver(current, request, this.host)) throw new RunLockedError(runId, current);
        // Above the token of a lease given back, too: a request addressed to its holder never reaches this one.
        const lease = grantOver(runId, request, current, topToken(found));
        // A free lease is published only if still free; one published meanwhile (without the lock) is judged again.
        // A lease given back is replaced by rename, as a held one.
        if (this.#write(lease, found === undefined)) {
          // Its holder may trust its last look at the old file for TRUST_MS more: see lease-trust.ts.
          if (current !== undefined && current.owner !== request.owner) await outlastTrust(performance.now());
          return lease;
        }
      }
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
      const current = held(this.#current(lease.runId));
      if (!current || !stillHeld(current, lease)) throw lost(current);
      const renewed: Lease = { ...current, expiresAt: now + ttlMs };
      this.#write(renewed, false);
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
      const current = held(this.#current(runId));
      if (!current || !cancelReaches(current, request)) return false;
      this.#write({ ...current, cancelRequested: keptCancel(request) }, false);
      return true;
    } finally {
      await unlock();
    }
  }

  /**
   * Gives the run's lease back when it is still `lease` (owner and token: an
   * owner's earlier lease, from before another driver took the run, gives
   * back nothing): marks
   * `lease.json` released in place (see the module comment, "Giving a
   * lease back"), or removes it (with `fsync`, or when it cannot be
   * written in place).
   */
  async release(lease: Lease): Promise<void> {
    try {
      const unlock = await this.lock(lease.runId, false);
      if (!unlock) return;
      try {
        const current = held(this.#current(lease.runId));
        if (current !== undefined && stillHeld(current, lease)) {
          const seen = this.#fences.get(lease.runId);
          this.#fences.delete(lease.runId);
          // Another store object of this process may hold this lease too: it trusts no look from before this.
          this.#changes.leaseGivenBack(lease.runId);
          if (!this.#fsync && this.#markReleased(lease.runId, current, seen, unlock.linked)) return;
          // Replaced by the lease given back (never removed: its token is the floor of the next holder's).
          writeReleasedSync(this.#folders.files(lease.runId).lease, current);
        }
      } finally {
        await unlock();
      }
    } finally {
      this.#kept.drop(lease.runId);
    }
  }

  /**
   * Marks the run's `lease.json` (holding `current`, as the look under the
   * lock just found, `seen`) released in place: through the file kept
   * open since this store made it (`kept-leases.ts`), else by path
   * (`lease-file.ts`).
   */
  #markReleased(runId: string, current: Lease, seen: Fence | undefined, lockLinked: boolean): boolean {
    const maxLinks = lockLinked ? 2 : 1;
    return this.#kept.markReleased(runId, current, seen, maxLinks) || markReleasedSync(this.#folders.files(runId).lease, current, lockLinked);
  }

  /** The runs whose `lease.json` is kept open. */
  keptRuns(): string[] {
    return this.#kept.runs();
  }

  /** Closes the `lease.json` kept open for run `runId` (the store is closing: a later release writes by path); called in the run's queue, as every lease call. */
  closeKept(runId: string): void {
    this.#kept.drop(runId);
  }

  /** Forgets the fencing copy of a run and that its folder was checked (it is going away). */
  forget(runId: string): void {
    this.#fences.delete(runId);
    this.#kept.drop(runId);
    this.#folders.forget(runId);
  }

  /**
   * The run's lease, its folder just checked: the fencing copy when
   * `lease.json` is still the file it was read from or written to (one
   * `lstat`), else the file read (and remembered).
   */
  #current(runId: string): LeaseFound {
    // The look is taken before the read: if the file changes meanwhile, the next look reads it again.
    const seenAt = performance.now();
    const look = fileLook(this.#folders.files(runId).lease);
    const known = this.#fences.get(runId);
    if (look !== undefined && known !== undefined && sameVersion(known, look)) {
      known.seenAt = seenAt;
      // A second name (the lock) changes no version: the count is the one just seen.
      known.links = look.links;
      return known.lease;
    }
    const found = look === undefined ? undefined : readLeaseFileSync(this.#folders.files(runId).lease, true);
    if (found !== undefined && look !== undefined) this.#fences.set(runId, fenceOf(found, look, seenAt));
    else this.#fences.delete(runId);
    return found;
  }

  /**
   * Writes `lease.json` (under the lease lock) and remembers it for the
   * fencing check. With `fresh`, the run had no lease when the lock was
   * taken, and the lease is published only if it still has none (one
   * published meanwhile without the lock): false when it has one.
   */
  #write(lease: Lease, fresh: boolean): boolean {
    const file = this.#folders.files(lease.runId).lease;
    this.#fences.delete(lease.runId);
    // The file kept open, if any, is about to be replaced (or is gone: a fresh write finds no file).
    this.#kept.drop(lease.runId);
    if (fresh) {
      // Made only if still absent: one published meanwhile without the lock is judged again.
      const made = publishIfAbsent(file, serialize(lease));
      if (made === undefined) return false;
      this.#kept.keep(lease.runId, made, !this.#fsync);
    } else {
      // Under the lease lock, just after the folder was checked.
      writeFileAtomicSync(file, serialize(lease), this.#fsync, true);
    }
    const seenAt = performance.now();
    const look = fileLook(file);
    if (look !== undefined) this.#fences.set(lease.runId, fenceOf(lease, look, seenAt));
    return true;
  }

  /**
   * Publishes the lease of a run that had none, without the lease lock:
   * true when it is the run's lease and nothing could have raced it, false
   * (with the lease perhaps published) when the lock must decide. See the
   * module comment, "Taking a free lease", for why the lock is looked at
   * after the write and before `lease.json` is.
   */
  #publishUnlocked(lease: Lease): boolean {
    const files = this.#folders.files(lease.runId);
    this.#fences.delete(lease.runId);
    const made = publishIfAbsent(files.lease, serialize(lease));
    if (made === undefined) return false;
    let unraced: { look: FileLook; seenAt: number } | undefined;
    try {
      unraced = lookAfterPublish(files, made.ino);
    } finally {
      // Kept open to give the lease back through it when it is the run's (without fsync, which removes the file instead).
      this.#kept.keep(lease.runId, made, unraced !== undefined && !this.#fsync);
    }
    if (unraced === undefined) return false;
    this.#fences.set(lease.runId, fenceOf(lease, unraced.look, unraced.seenAt));
    return true;
  }

  /**
   * Throws `LeaseLostError` unless `lease` is the run's current lease. A
   * lease this store last saw in a `lease.json` that is still the same
   * file passes without reading it, and without looking at the file when
   * it was seen so less than `TRUST_MS` (`lease-trust.ts`) ago and is far from expiry
   * (`lease-trust.ts`).
   */
  fence(runId: string, lease: Lease): void {
    const known = this.#fences.get(runId);
    const knownLease = known === undefined ? undefined : held(known.lease);
    const same = known !== undefined && knownLease !== undefined && stillHeld(knownLease, lease);
    const seenAt = performance.now();
    // Not trusted past a lease given back (or the run deleted) by another store object of this process since the look.
    if (same && trusted(known.seenAt, seenAt, knownLease.expiresAt) && !this.#changes.givenBackSince(runId, known.seenAt)) return;
    const file = this.#folders.files(runId).lease;
    // The look is taken before the read: if the file changes meanwhile, the next check reads it again.
    const look = fileLook(file);
    if (same && look !== undefined && sameVersion(known, look)) {
      known.seenAt = seenAt;
      return;
    }
    const found = readLeaseFileSync(file);
    if (found !== undefined && look !== undefined) this.#fences.set(runId, fenceOf(found, look, seenAt));
    else this.#fences.delete(runId);
    const current = held(found);
    if (!stillHeld(current, lease)) throw leaseLost(lease, current);
  }

  /**
   * The run's current lease, or undefined when it has none (no
   * `lease.json`, or one given back). With `folderChecked`, the caller has
   * just checked the run's folder.
   */
  read(runId: string, folderChecked = false): Lease | undefined {
    return held(readLeaseFileSync(this.#folders.files(runId).lease, folderChecked));
  }

  /** When the file of the run's fencing copy was modified (epoch ms), or undefined without a copy. */
  #fenceModifiedMs(runId: string): number | undefined {
    const known = this.#fences.get(runId);
    return known === undefined ? undefined : modifiedMs(known);
  }

  /**
   * Takes the run's lease lock; resolves to the function that gives it
   * back, or to undefined when the run has no folder and `create` is false.
   */
  async lock(runId: string, create: boolean): Promise<FileUnlock | undefined> {
    // The run folder is checked before a lock is made in it: through a planted link, even an empty lock folder lands elsewhere.
    if (!create && !this.#folders.recheckSync(runId)) return undefined;
    const files = this.#folders.files(runId);
    return takeFileLock(files.lock, {
      what: `the lease lock of run "${runId}"`,
      // The lease is the lock itself (a second name of it; an older one is touched first): no file made.
      linkFrom: files.lease,
      // lease.json is the file of the fencing copy or a newer one (folder-lock.ts): modified no earlier than it.
      linkFromModifiedSince: this.#fenceModifiedMs(runId),
      // An older lease is touched and linked all the same: no lock file is made and freed.
      refreshFrom: true,
      createParent: create ? () => this.#folders.ensure(runId) : undefined,
    });
  }
}
