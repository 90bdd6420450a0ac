/**
 * A run's journal file, `journal.ndjson`: one superjson `JournalRecord` per
 * line (or a record that stands for several, `journal-delta.ts` and
 * `journal-batch.ts`), appended; a run file (`run-file-lines.ts`) follows
 * the same rules. This module writes it: the open journal
 * ({@link JournalFile}), its growth ahead of the records, the text of
 * records. Its rules:
 *
 * - The reading rules are `journal-reading.ts`'s: a line counts only when
 *   it ends in "\n", parses and has a record's shape; a torn tail is
 *   ignored when reading and cut off when the journal is opened for
 *   appends; a file that ends in zero was preallocated (below), and its
 *   records end at its first zero byte.
 * - Appends are single synchronous writes through a descriptor opened and
 *   checked as `store-files.ts` says ({@link JournalFile}). Reads are
 *   synchronous too, a chunk at a time: a journal is read when a run is
 *   loaded or compacted, and the thread pool would add a round trip per
 *   chunk and per open, check and close.
 *
 * Preallocation (a store with `fsync`). An append that makes the file
 * longer must flush the new size with its bytes: on ext4 and most other
 * file systems that is a metadata (journal) commit, which made each
 * flushed chain step cost about 1.4 times a flush of bytes rewritten in
 * place. So a journal opened with `preallocate` is grown ahead of its
 * records with real zero bytes, up to {@link PREALLOCATE_BYTES} at a time
 * ({@link grownSize}; as PostgreSQL does with its pre-zeroed WAL
 * segments), and records are
 * written over the zeros at the records' end (`pwrite`, no `O_APPEND`):
 * only the flush after a growth commits a new size, the others write data
 * blocks alone. At least one zero byte always follows the records, so a
 * preallocated journal always ends in zero. Real zeros, not a hole or
 * `fallocate`: a write into either still changes the file's block map,
 * which the flush must commit. A growth's flush commits a new size and
 * the allocation of the new blocks, about twice a step's flush when the
 * disk is idle and several times it when other writes queue on the disk,
 * so growths are made few: the journal about doubles (by up to
 * {@link PREALLOCATE_BYTES} at a time), and a 1,000-step chain's journal
 * (170 KiB) grows 6 times, not 20 (by an eighth at a time, as before).
 *
 * @module
 */
// Imported, not the global: `Buffer` and `performance` on `globalThis` are getters, a call at every use on a chain step's path.
import { Buffer } from "node:buffer";
import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, writeSync } from "node:fs";
import { promisify } from "node:util";
import { anchorShape } from "../core/shape-anchors.js";
import type { JournalRecord } from "../state/records.js";
import { checkStoredRecord } from "./journal-batch.js";
import type { StoredRecord } from "./journal-delta.js";
import { journalLine } from "./journal-line.js";
import type { ShapeCheck } from "./stored-document.js";
import { hasCode } from "./folder-lock.js";
import { openStoreFileSync } from "./store-files.js";
import { validEnd } from "./journal-reading.js";
import { writeAllSync } from "./atomic-file.js";

/** Growths end on a page boundary: the zeros of a page the records are in cost nothing more to flush. */
const PAGE = 4096;

/**
 * The most a preallocating {@link JournalFile} grows ahead of its records
 * by (and a page), in zero bytes: once the journal is big, a growth (a
 * flush that commits a new size) per a few hundred chain steps, and at
 * most about this much of a stopped run's disk.
 */
export const PREALLOCATE_BYTES = 64 * 1024;

/**
 * The size a preallocated journal whose records end at `end` grows to when
 * it needs `need` bytes (its records, the new ones and one zero): past
 * `need` by as much as the journal holds (it doubles), at least half a
 * page, at most {@link PREALLOCATE_BYTES}, rounded up to a page. A new
 * journal's first record fits in one page with its zeros, so a small
 * journal (a fan-out's, flushed a handful of times) writes no more pages
 * than before; a chain's grows by 4, 8, 12, 28 and 56 KiB, then 64 KiB
 * (and a page) at a time.
 */
export function grownSize(end: number, need: number): number {
  const ahead = Math.min(PREALLOCATE_BYTES, Math.max(PAGE / 2, end));
  return Math.ceil((need + ahead) / PAGE) * PAGE;
}

const flushAsync = promisify(fdatasync);

/** An empty journal's highest seq. */
export const EMPTY = Number.NEGATIVE_INFINITY;

/** The highest seq among `records`, or {@link EMPTY}. */
export function topSeq(records: readonly JournalRecord[]): number {
  let top = EMPTY;
  for (const r of records) if (r.seq > top) top = r.seq;
  return top;
}

/**
 * The text of `records`, one line each (`journal-line.ts`). Added one to
 * the other, not joined from an array: a join of a 1,000,000-node
 * fan-out's append kept every line's pieces and the joined text alive at
 * once (peak RSS 1.6 to 1.9 GB against 1.3 to 1.4 GB; issue 16, eighth
 * pass), though it halved a 10,000-record append's instructions.
 */
export function journalText(records: readonly StoredRecord[]): string {
  if (records.length === 1) return journalLine(records[0]!);
  let text = "";
  for (const r of records) text += journalLine(r);
  return text;
}

/** One zeroed piece, written as many times as a growth needs. */
let zeros: Buffer | undefined;

/**
 * An open journal, written at its records' end: the descriptor of a
 * journal file, checked as `store-files.ts` says, with its torn tail cut
 * off when it was opened. Without `preallocate`, records are appended
 * (`O_APPEND`) and the file ends with them; with it, the file is grown
 * ahead of them with zeros (see the module comment). A descriptor whose
 * write or flush failed must be closed and the journal opened again: the
 * offsets kept here may then be wrong.
 */
export class JournalFile {
  readonly #fd: number;
  readonly #preallocate: boolean;
  /** Where the next record goes: the end of the records. */
  #end: number;
  /** The file's size as this descriptor made it (zeros from `#end` on, when preallocating). */
  #size: number;

  private constructor(fd: number, end: number, preallocate: boolean) {
    this.#fd = fd;
    this.#end = end;
    this.#size = end;
    this.#preallocate = preallocate;
  }

  /**
   * Opens the journal `file` (made if missing, refused as `store-files.ts`
   * says) and cuts off what follows its last valid record (a torn tail, a
   * bad last line, a preallocated tail). `last` is that record. With
   * `likelyNew` (a run whose folder this store made and that has no
   * snapshot yet), the file is first made exclusively, which a new file
   * passes without a look at it (`store-files.ts`, "Made as asked": one
   * `fstat` fewer per new run); a file already there is opened as without.
   * `check` says what a valid line holds, as for `readJournal` (`journal-reading.ts`).
   */
  static open(
    file: string,
    preallocate: boolean,
    likelyNew = false,
    check: ShapeCheck = checkStoredRecord,
  ): { journal: JournalFile; last: JournalRecord | undefined } {
    const purpose = preallocate ? "update" : "append";
    if (likelyNew) {
      try {
        const made = openStoreFileSync(file, purpose, { exclusive: true });
        // `this`, not the class's name: a class body that names its class is renamed by the build (scripts/build.mjs).
        if (made !== undefined) return { journal: new this(made.fd, 0, preallocate), last: undefined };
      } catch (err) {
        if (!hasCode(err, "EEXIST")) throw err;
      }
    }
    const opened = openStoreFileSync(file, purpose, { singleLink: true });
    if (!opened) throw new Error(`taskloom internal error: ${file} was not opened`);
    try {
      const { end, last } = validEnd(opened.fd, opened.size, check);
      // New records never join a fragment, nor stray bytes after a zero.
      if (end < opened.size) ftruncateSync(opened.fd, end);
      // `this`, not the class's name: a class body that names its class is renamed by the build (scripts/build.mjs).
      return { journal: new this(opened.fd, end, preallocate), last };
    } catch (err) {
      closeSync(opened.fd);
      throw err;
    }
  }

  /**
   * Makes the file `file` exclusively (`O_CREAT | O_EXCL`, checked as
   * `store-files.ts` says) and opens it as an empty journal; undefined when
   * the name is taken. A run file is made so (`RunFileStore`): the make is
   * the claim of its run id.
   */
  static make(file: string, preallocate: boolean): JournalFile | undefined {
    try {
      const made = openStoreFileSync(file, preallocate ? "update" : "append", { exclusive: true });
      // `this`, not the class's name: a class body that names its class is renamed by the build (scripts/build.mjs).
      return made === undefined ? undefined : new this(made.fd, 0, preallocate);
    } catch (err) {
      if (hasCode(err, "EEXIST")) return undefined;
      throw err;
    }
  }

  /** Where the records end (0: none). */
  get end(): number {
    return this.#end;
  }

  /** Grows a preallocated file that lacks room for `length` more bytes and one zero after them (see {@link JournalFile.appendText}). */
  #makeRoom(length: number, ahead: boolean): void {
    const need = this.#end + length + 1;
    if (need <= this.#size) return;
    const size = ahead ? grownSize(this.#end, need) : need;
    // Zeros where the records will not be: after them, and after the old end of the file.
    zeros ??= Buffer.alloc(PREALLOCATE_BYTES);
    for (let at = Math.max(this.#size, need - 1); at < size; at += PREALLOCATE_BYTES) {
      writeAt(this.#fd, zeros.subarray(0, Math.min(PREALLOCATE_BYTES, size - at)), at);
    }
    this.#size = size;
  }

  /**
   * Writes `text` (whole lines) after the records, from the string itself:
   * no buffer is made for it in JavaScript (the write copies it in C++, to
   * the stack when small), which spares a chain step an allocation and a
   * copy. A preallocated file that lacks room for it and one zero byte
   * after it grows first: with `ahead`, to {@link grownSize}, for the
   * appends to come; without, to just that (for an append of many
   * records, whose flush commits a new size anyway). A short write (a full
   * disk) is finished from the bytes that are left.
   */
  appendText(text: string, ahead = true): void {
    const length = Buffer.byteLength(text);
    if (!this.#preallocate) {
      const written = writeSync(this.#fd, text);
      if (written < length) writeAllSync(this.#fd, Buffer.from(text).subarray(written));
    } else {
      this.#makeRoom(length, ahead);
      const written = writeSync(this.#fd, text, this.#end);
      if (written < length) writeAt(this.#fd, Buffer.from(text).subarray(written), this.#end + written);
    }
    this.#end += length;
  }

  /** Flushes what was written (and a growth) to the disk, synchronously. */
  flushSync(): void {
    fdatasyncSync(this.#fd);
  }

  /** {@link JournalFile.flushSync} through the thread pool. */
  flush(): Promise<void> {
    return flushAsync(this.#fd);
  }

  /** Cuts the file back to `end` bytes (its records then end there, with no preallocated tail). */
  cutTo(end: number): void {
    ftruncateSync(this.#fd, end);
    this.#end = end;
    this.#size = end;
  }

  /** Empties the file (its preallocated tail too). */
  empty(): void {
    ftruncateSync(this.#fd, 0);
    this.#end = 0;
    this.#size = 0;
  }

  /**
   * Whether the file this descriptor has open still has a name: false once
   * it was removed, or replaced by a rename over its name (one `fstat`).
   */
  named(): boolean {
    return fstatSync(this.#fd).nlink > 0;
  }

  close(): void {
    closeSync(this.#fd);
  }

  static {
    // One per run, dead when the run ends: its map is anchored (see core/shape-anchors.ts). The sample opens nothing.
    anchorShape(new this(-1, 0, false));
  }
}

/** Writes every byte of `buffer` to `fd` at `position`. */
function writeAt(fd: number, buffer: Buffer, position: number): void {
  let done = 0;
  while (done < buffer.length) done += writeSync(fd, buffer, done, buffer.length - done, position + done);
}
