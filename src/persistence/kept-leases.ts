/**
 * The `lease.json` files a `LeaseFiles` made for free leases, kept open
 * until each lease is given back, so that marking it released is one
 * `pwrite` through the descriptor (`lowdb-leases.ts`, "Costs"): no open,
 * no check, no close at the release. A kept file is written only when the
 * look under the lease lock has just found that very file at
 * `lease.json` (same inode) with no more names than the lock's, so a
 * write never lands in a file that is no longer the lease, nor in a
 * second name planted beside it. The owner drops (closes) a kept file
 * whenever the lease is given back, the file is replaced, the run is
 * forgotten, or the store closes; every call is made in the run's queue.
 *
 * @module
 */
import { closeQuietly } from "./atomic-file.js";
import { markReleasedKeptSync } from "./lease-file.js";
import type { PublishedFile } from "./lease-publish.js";
import type { Lease } from "./run-store.js";

/** The `lease.json` files kept open, by run id. */
export class KeptLeases {
  readonly #kept = new Map<string, PublishedFile>();

  /** Keeps `made` (the run's new `lease.json`) open for its release, or closes it when `keep` is false; any file kept before is closed. */
  keep(runId: string, made: PublishedFile, keep: boolean): void {
    this.drop(runId);
    if (keep) this.#kept.set(runId, made);
    else closeQuietly(made.fd);
  }

  /** Closes the file kept open for run `runId`, if any. */
  drop(runId: string): void {
    const kept = this.#kept.get(runId);
    if (kept === undefined) return;
    this.#kept.delete(runId);
    closeQuietly(kept.fd);
  }

  /** The runs whose `lease.json` is kept open. */
  runs(): string[] {
    return [...this.#kept.keys()];
  }

  /**
   * Marks the run's lease `current` released through the kept file when
   * `seen` (the look just taken under the lease lock) found that file with
   * at most `maxLinks` names; false, with nothing written, otherwise (the
   * caller writes by path).
   */
  markReleased(runId: string, current: Lease, seen: { readonly ino: bigint; readonly links: number } | undefined, maxLinks: number): boolean {
    const kept = this.#kept.get(runId);
    if (kept === undefined || seen === undefined || seen.ino !== kept.ino || seen.links > maxLinks) return false;
    return markReleasedKeptSync(kept, current);
  }
}
