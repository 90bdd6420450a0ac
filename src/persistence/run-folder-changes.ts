/**
 * What one store object of this process changes in a run folder that the
 * others must know before they write to it: the run's journal, and its
 * lease given back (or the run deleted).
 *
 * Two `LowdbStore` objects on one folder (a store per request, say) may
 * both write a run kept in the folder layout (`run-folder-store.ts`): one
 * may renew a lease the other took and write with it, give back a lease
 * the other holds, or write a tool's snapshot without a lease. Each object
 * appends through its own journal descriptor at the end it knows (with
 * `fsync`, over the zeros it grew the file by), so, before this, an append
 * made after another object's compaction (the journal emptied in place, or
 * replaced) was written past the new end, after a run of zeros that ends
 * the journal's records, or into the replaced file: lost without an error.
 * And a holder trusts its last look at `lease.json` for `TRUST_MS`
 * (`lease-trust.ts`), so after another object gave its lease back, a
 * `delete` could take the run away under the holder's next append.
 *
 * So each object that has a run's journal open registers it here
 * ({@link RunFolderChanges.journalOpened}), and every change to a journal
 * (an append, an emptying, a replacement, a delete) marks the others' open
 * descriptors of it stale ({@link RunFolderChanges.journalChanged}): their
 * next write closes the descriptor and opens the file again, which finds
 * its end (and cuts a torn tail). The file calls around it are synchronous,
 * so within this process nothing comes between the check and the write.
 * A lease given back, or a run deleted, is recorded with the time
 * ({@link RunFolderChanges.leaseGivenBack}), and a look at `lease.json`
 * taken before it is not trusted ({@link RunFolderChanges.givenBackSince}).
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

/** A run's journal as one store object has it open: stale once another object of this process changed the file. */
export interface JournalWatch {
  stale: boolean;
  /** Every open journal of the run in this process, this one included (most often this one alone). */
  readonly peers: JournalWatch[];
}

/** The journals open in this process, by run (the real path of its store's `runs/`, and its id). */
const journals = new Map<string, JournalWatch[]>();

/** When each run's lease was last given back, or the run deleted (`performance.now()`), for {@link TRUST_MS} after. */
const givenBack = new Map<string, number>();

/** Past this many runs recorded in {@link givenBack}, those older than {@link TRUST_MS} are dropped: no trust outlives them. */
const GIVEN_BACK_KEPT = 1_024;

/** What the store objects of this process change in the run folders under one `runs/` folder, as one store object records and reads it. */
export class RunFolderChanges {
  readonly #folders: RunFolders;
  /** The real path of `runs/`, once it could be resolved. */
  #real: string | undefined;

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

  /** Records that this store object opened run `runId`'s journal: the watch its writes look at first. */
  journalOpened(runId: string): JournalWatch {
    const key = this.#key(runId);
    let peers = journals.get(key);
    if (peers === undefined) journals.set(key, (peers = []));
    const watch: JournalWatch = { stale: false, peers };
    peers.push(watch);
    return watch;
  }

  /**
   * Records that run `runId`'s journal was changed (appended to, emptied,
   * replaced, or its folder deleted) by the store object whose open
   * journal is `by` (undefined: one without it open): every other open
   * journal of the run is stale.
   */
  journalChanged(runId: string, by: JournalWatch | undefined): void {
    const open = by !== undefined ? by.peers : journals.get(this.#key(runId));
    // One journal open (the common case): nothing to mark when it is the writer's own.
    if (open === undefined || (open.length === 1 && open[0] === by)) return;
    for (const watch of open) if (watch !== by) watch.stale = true;
  }

  /** Records that the journal whose watch is `watch` was closed. */
  journalClosed(runId: string, watch: JournalWatch): void {
    const open = watch.peers;
    const at = open.indexOf(watch);
    if (at >= 0) open.splice(at, 1);
    if (open.length > 0) return;
    const key = this.#key(runId);
    if (journals.get(key) === open) journals.delete(key);
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
