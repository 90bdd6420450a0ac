/**
 * What one store object of this process changes in a run folder that the
 * others must know before they write to it or rely on what they know of
 * it: the run's files (its snapshot and journal), and its lease given
 * back (or the run deleted).
 *
 * Two `LowdbStore` objects on one folder (a store per request, say) may
 * both write a run kept in the folder layout (`run-folder-store.ts`): one
 * may renew a lease the other took and write with it, give back a lease
 * the other holds, or write a tool's snapshot without a lease. Each object
 * keeps what it knows of a run's files: its own journal descriptor,
 * appending at the end it knows (with `fsync`, over the zeros it grew the
 * file by), the journal's highest seq, and the records its compact
 * journal lines are relative to (`journal-delta.ts`). Before this, an
 * append made after another object's compaction (the journal emptied in
 * place, or replaced) was written past the new end, after zeros that end
 * the journal's records, or into the replaced file: lost without an
 * error; and a record written compact against a snapshot another object
 * had replaced was read back against the new one: another record. And a
 * holder trusts its last look at `lease.json` for `TRUST_MS`
 * (`lease-trust.ts`), so after another object gave its lease back, a
 * `delete` could take the run away under the holder's next append.
 *
 * So every change to a run's files (a snapshot, an append, a delete)
 * takes a tick of one clock shared by the process
 * ({@link RunFolderChanges.changed}), and each store object notes the
 * tick it last saw of each run (at its own changes and its reads). Before
 * it writes or relies on what it knows, it compares
 * ({@link RunFolderChanges.lastChange}): a run changed by another object
 * since is forgotten (its journal closed and opened again at its end, its
 * records written whole). The file calls around the check are
 * synchronous, so within this process nothing comes between the check
 * and the write. A lease given back, or a run deleted, is recorded with
 * the time ({@link RunFolderChanges.leaseGivenBack}), and a look at
 * `lease.json` taken before it is not trusted
 * ({@link RunFolderChanges.givenBackSince}).
 *
 * Runs are named by the real path of the store's `runs/` folder (resolved
 * once per store object) and the run id, so that stores given one folder
 * through a link and through its real path share what they record. Across
 * processes the lease protocol keeps one writer per run
 * (`lowdb-leases.ts`); a worker thread is a process here. A run file has
 * its own registry (`run-file-writers.ts`): one writer per file, handed
 * between store objects.
 *
 * @module
 */
import { realpathSync } from "node:fs";
import { sep } from "node:path";
// Imported, not the global (a getter, a call at every fenced write).
import { performance } from "node:perf_hooks";
import { TRUST_MS } from "./lease-trust.js";
import type { RunFolders } from "./run-folder.js";

/** The tick of each run's last change by a store object of this process (see {@link clock}). */
const changes = new Map<string, number>();

/** The clock the ticks are read from: one per change, in the order made. */
let clock = 0;

/** The tick every run not in {@link changes} counts as last changed at: the clock when the map was last emptied. */
let forgotten = 0;

/**
 * Past this many runs in {@link changes}, the map is emptied: every run then
 * counts as changed at that moment, so each store object reads each run it
 * knows once more (never a stale one trusted), and memory stays bounded.
 */
const CHANGES_KEPT = 16_384;

/** When each run's lease was last given back, or the run deleted (`performance.now()`), for {@link TRUST_MS} after. */
const givenBack = new Map<string, number>();

/** Past this many runs recorded in {@link givenBack}, those older than {@link TRUST_MS} are dropped: no trust outlives them. */
const GIVEN_BACK_KEPT = 1_024;

/** What the store objects of this process change in the run folders under one `runs/` folder, as one store object records and reads it. */
export class RunFolderChanges {
  readonly #folders: RunFolders;
  /** The real path of `runs/`, once it could be resolved. */
  #real: string | undefined;
  /** The tick of each run's last change this store object saw (made or read). */
  readonly #seen = new Map<string, number>();

  /** @param folders The store's run folders (`run-folder.ts`). */
  constructor(folders: RunFolders) {
    this.#folders = folders;
  }

  /**
   * The key of run `runId`: the real path of `runs/` (its given path while
   * it cannot be resolved: then nothing of it is open) and the id; the
   * run's folder path the store keeps when `runs/` is its real path (no
   * string made per call: a fenced append asks).
   */
  #key(runId: string): string {
    const runsDir = this.#folders.runsDir;
    if (this.#real === undefined) {
      try {
        this.#real = realpathSync(runsDir);
      } catch {
        return `${runsDir}${sep}${runId}`;
      }
    }
    return this.#real === runsDir ? this.#folders.files(runId).dir : `${this.#real}${sep}${runId}`;
  }

  /**
   * Records that run `runId`'s files were changed now (a snapshot, an
   * append, a delete) by this store object: a tick it has seen, which
   * every other object's next look finds newer than theirs.
   */
  changed(runId: string): void {
    const key = this.#key(runId);
    if (changes.size >= CHANGES_KEPT && !changes.has(key)) {
      changes.clear();
      forgotten = ++clock;
    }
    const tick = ++clock;
    changes.set(key, tick);
    this.#seen.set(runId, tick);
  }

  /** Records that this store object read run `runId`'s files now: it has seen their last change. */
  read(runId: string): void {
    this.#seen.set(runId, this.#lastChange(runId));
  }

  /**
   * Whether run `runId`'s files changed since this store object last saw
   * them (made or read a change; never: true), so what it knows of them
   * must be forgotten; it has seen the last change from now on.
   */
  missed(runId: string): boolean {
    const last = this.#lastChange(runId);
    if (this.#seen.get(runId) === last) return false;
    this.#seen.set(runId, last);
    return true;
  }

  /** The tick of the last change to run `runId`'s files by a store object of this process (or of the last time this registry forgot). */
  #lastChange(runId: string): number {
    return changes.get(this.#key(runId)) ?? forgotten;
  }

  /** Records that run `runId`'s lease was given back, or the run deleted, now: a holder's look at its lease before this is not trusted. */
  leaseGivenBack(runId: string): void {
    const now = performance.now();
    if (givenBack.size >= GIVEN_BACK_KEPT) for (const [key, at] of givenBack) if (now - at > TRUST_MS) givenBack.delete(key);
    givenBack.set(this.#key(runId), now);
  }

  /** Whether run `runId`'s lease was given back (or the run deleted) by a store object of this process at or after `seenAt` (`performance.now()`). */
  givenBackSince(runId: string, seenAt: number): boolean {
    if (givenBack.size === 0) return false;
    const at = givenBack.get(this.#key(runId));
    return at !== undefined && at >= seenAt;
  }
}
