/**
 * One run file as the `RunFileStore` that writes it knows it
 * (`run-file-store.ts`): its open journal, the lease the store holds on the
 * run, what the file holds, and the store's last look at the run's claim
 * file (`run-file-leases.ts`), which fences its writes.
 *
 * @module
 */
import { performance } from "node:perf_hooks";
import { JournalFile } from "./journal-file.js";
import { fileLook, sameVersion, type FileLook } from "./lease-look.js";
import { leaseLost, stillHeld } from "./lease-rules.js";
import type { LeaseLostError } from "../engine/errors.js";
import { trusted } from "./lease-trust.js";
import { claimPath, currentLease, heldLease, readClaim, type Claim } from "./run-file-leases.js";
import { checkRunFileLine } from "./run-file-lines.js";
import type { Lease } from "./run-store.js";
import type { JournalRecord } from "../state/records.js";

/** What a {@link RunFileWriter} starts with, beyond its file and journal (each defaults to "not known" or none). */
export interface WriterStart {
  readonly lease?: Lease | undefined;
  readonly started?: boolean | undefined;
  readonly top?: number | undefined;
  /** When the claim file was looked at (`performance.now()`, taken before the look), what the look found, and the claim then read. */
  readonly seenAt?: number;
  readonly claimLook?: FileLook | undefined;
  readonly claim?: Claim | undefined;
  readonly undoTo?: number | undefined;
}

/** A run file that a store writes: see the module comment. */
export class RunFileWriter {
  /** The run file. */
  readonly file: string;
  /** Its journal, open for writing. */
  journal: JournalFile;
  /** The lease the store holds on the run, as its last lease line says (undefined: writes are not fenced). */
  lease: Lease | undefined;
  /** Whether the file holds a snapshot line (undefined: not known yet). */
  started: boolean | undefined;
  /**
   * The highest seq among the file's journal records, when the store knows
   * every record in it (it made the file, compacted it or loaded it);
   * `EMPTY` for none; undefined when it does not know.
   */
  top: number | undefined;
  /** A flush through the thread pool in flight on the descriptor. */
  flushing: Promise<void> | undefined;
  /**
   * Where the file ended before the store's lease line, when it took the
   * run of a file nobody could still write and has written nothing else
   * since: giving the lease back then cuts the file back there, so a run
   * that failed to load (a damaged file) is left as it was.
   */
  undoTo: number | undefined;
  /**
   * True once a look found the file this writer has open without a name
   * (`JournalFile.named`): the run was deleted, or a rename replaced its
   * file. Its writes would reach no reader, and a compaction would bring a
   * deleted run back, so every fenced write and renewal is refused from
   * then on, as a run folder's are once its `lease.json` is gone.
   */
  removed = false;
  #seenAt: number;
  #claimLook: FileLook | undefined;
  #claim: Claim | undefined;

  constructor(file: string, journal: JournalFile, start: WriterStart = {}) {
    this.file = file;
    this.journal = journal;
    this.lease = start.lease;
    this.started = start.started;
    this.top = start.top;
    this.flushing = undefined;
    this.undoTo = start.undoTo;
    this.#seenAt = start.seenAt ?? Number.NEGATIVE_INFINITY;
    this.#claimLook = start.claimLook;
    this.#claim = start.claim;
  }

  /** Opens the run file `file` for writing (made when missing, its torn tail cut off), knowing nothing of it yet. */
  static open(file: string, preallocate: boolean): RunFileWriter {
    // `this`, not the class's name: a class body that names its class is renamed by the build (scripts/build.mjs).
    return new this(file, JournalFile.open(file, preallocate, false, checkRunFileLine).journal);
  }

  /**
   * Looks at the claim file (unless `trust` and the last look is recent, as
   * `lease-trust.ts` says for `lease`): reads it when it changed, and returns
   * it (undefined: none).
   */
  look(lease: Lease, trust: boolean): Claim | undefined {
    const now = performance.now();
    if (trust && trusted(this.#seenAt, now, lease.expiresAt)) return this.#claim;
    // A `delete` removes the claim, then the file: needing the lease expired or given back, it is never trusted, so
    // the look after it comes here and finds the file it writes without a name (see `removed`).
    if (!this.removed && !this.journal.named()) this.removed = true;
    const look = fileLook(claimPath(this.file));
    if (look === undefined) this.#claim = undefined;
    else if (this.#claimLook === undefined || !sameVersion(look, this.#claimLook)) this.#claim = readClaim(this.file);
    this.#claimLook = look;
    this.#seenAt = now;
    return this.#claim;
  }

  /**
   * The fencing check of a write that holds `lease`: refused
   * (`LeaseLostError`) unless it is the lease this writer holds, no claim
   * outranks it, and the file is still there ({@link removed}).
   */
  fence(lease: Lease, trust = true): void {
    const lost = this.lost(lease, trust);
    if (lost !== undefined) throw lost;
  }

  /** What {@link fence} would throw for `lease` (after a look at the claim, unless trusted), or undefined while it holds the run. */
  lost(lease: Lease, trust: boolean): LeaseLostError | undefined {
    if (!stillHeld(this.lease, lease)) return leaseLost(lease, this.lease);
    const claim = this.look(lease, trust);
    if (claim !== undefined) {
      const { current } = currentLease(heldLease(this.lease!), claim);
      if (!stillHeld(current, lease)) return leaseLost(lease, current ?? claim.lease);
    }
    // The run was deleted (or its file replaced, which a claim above says first): nobody holds it now.
    return this.removed ? leaseLost(lease, undefined) : undefined;
  }

  /** Closes the file once its flush in flight, if any, is done. */
  async close(): Promise<void> {
    await this.flushing?.catch(() => undefined);
    this.journal.close();
  }
}

/**
 * `records` with each run record's keys in the order `kind`, `seq`, `run`,
 * so its line starts as `list` looks for (`run-file-lines.ts`,
 * `isRunRecordLine`) whoever made the record object; other records as given.
 */
export function canonical(records: readonly JournalRecord[]): readonly JournalRecord[] {
  let out: JournalRecord[] | undefined;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    if (r.kind !== "run") continue;
    out ??= records.slice();
    out[i] = { kind: "run", seq: r.seq, run: r.run };
  }
  return out ?? records;
}
