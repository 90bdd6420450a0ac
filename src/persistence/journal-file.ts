/**
 * A run's journal file, `journal.ndjson`: one superjson `JournalRecord` per
 * line (or a record that stands for several, `journal-delta.ts` and
 * `journal-batch.ts`), appended. Its rules:
 *
 * - A line counts only when it ends in "\n", parses, and has a journal
 *   record's shape (`snapshot-schema.ts`). A crash may tear the last
 *   append, so the file may end in a fragment (no "\n") and its last
 *   complete line may be bad: both are ignored when reading, and cut off
 *   before the next append ({@link validEnd}). A bad line with a complete
 *   line after it is corruption: `SnapshotCorruptError` naming the file.
 * - A journal whose last byte is zero was preallocated (below): its
 *   records end at its first zero byte, and the rules above apply to what
 *   comes before it. What follows the first zero is the preallocated tail,
 *   or, after a power loss, the part of the append in flight that reached
 *   the disk before an earlier part did: neither counts. A serialized
 *   record never holds a zero byte (JSON escapes control characters), so
 *   the first zero is never inside a record that was written whole. A
 *   journal that does not end in zero (written without preallocation, as
 *   every journal was before it) is read as it always was.
 * - The file is read in chunks and line by line ({@link readJournal}),
 *   never as one string, so its size is bounded by the disk, not by the
 *   longest string V8 can make (about 512 MB); only one line at a time is
 *   held as text.
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
import { Buffer, constants as bufferConstants } from "node:buffer";
import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, readSync, writeSync } from "node:fs";
import { promisify } from "node:util";
import { anchorShape } from "../core/shape-anchors.js";
import { SnapshotCorruptError } from "./errors.js";
import type { JournalRecord } from "../state/records.js";
import { checkStoredRecord } from "./journal-batch.js";
import type { StoredRecord } from "./journal-delta.js";
import { journalLine } from "./journal-line.js";
import { parseDocument, type Parsed, type ShapeCheck } from "./stored-document.js";
import { hasCode } from "./folder-lock.js";
import { openStoreFileSync, readFailure } from "./store-files.js";
import { writeAllSync } from "./atomic-file.js";

const NEWLINE = 0x0a;
const ZERO = 0x00;
/** Bytes read at a time, forwards when reading, backwards when looking for the last line. */
const CHUNK = 1024 * 1024;

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

/** One journal line (without its "\n") as a record (a value `check` passes), or what is wrong with it. */
function parseLine(bytes: Buffer, check: ShapeCheck): Parsed {
  if (bytes.length > bufferConstants.MAX_STRING_LENGTH) return { ok: false, problem: `it is too long to read (${bytes.length} bytes)` };
  return parseDocument(bytes.toString("utf8"), check);
}

/**
 * Reads a journal's records in order, handing each to `onRecord` (which may
 * throw to refuse one). A missing file has none. The last complete line is
 * dropped when it is bad, and a fragment after it always; any other bad
 * line is `SnapshotCorruptError` naming the file. `check` says what a
 * valid line holds (a journal record; a run file's lines, `run-file-lines.ts`,
 * pass their own). A line for which `skip` (given the line's bytes) returns
 * true is neither parsed nor checked nor handed on: a run file's reader
 * passes over a snapshot it does not need (`run-file-store.ts`).
 */
export function readJournal(
  file: string,
  onRecord: (record: JournalRecord) => void,
  check: ShapeCheck = checkStoredRecord,
  skip?: (line: Buffer) => boolean,
): void {
  // One name only even to read it: the journal is written in place later, so a hard link is refused before anything runs.
  const opened = openStoreFileSync(file, "read", { singleLink: true });
  if (!opened) return;
  const fd = opened.fd;
  try {
    // A preallocated journal (it ends in zero) ends at its first zero byte.
    const zeroTail = endsInZero(fd, opened.size, file);
    let pending: Buffer[] = [];
    let pendingLength = 0;
    let line = 0;
    let bad: { line: number; problem: string } | undefined;
    let position = 0;
    // Small journals (the common case) need a small buffer only.
    const chunkSize = Math.min(CHUNK, Math.max(opened.size + 1, 4096));
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkSize);
      let bytesRead: number;
      try {
        bytesRead = readSync(fd, chunk, 0, chunkSize, position);
      } catch (err) {
        throw readFailure(file, err);
      }
      if (bytesRead === 0) break;
      position += bytesRead;
      let view = chunk.subarray(0, bytesRead);
      const zero = zeroTail ? view.indexOf(ZERO) : -1;
      if (zero !== -1) view = view.subarray(0, zero);
      let start = 0;
      for (let nl = view.indexOf(NEWLINE, start); nl !== -1; nl = view.indexOf(NEWLINE, start)) {
        const piece = view.subarray(start, nl);
        const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece], pendingLength + piece.length);
        pending = [];
        pendingLength = 0;
        start = nl + 1;
        line += 1;
        if (bad) throw new SnapshotCorruptError(file, `line ${bad.line} is not a valid journal record (${bad.problem}), and records follow it`);
        if (skip?.(bytes) === true) continue;
        const parsed = parseLine(bytes, check);
        if (parsed.ok) onRecord(parsed.value as JournalRecord);
        else bad = { line, problem: parsed.problem };
      }
      if (start < view.length) {
        pending.push(view.subarray(start));
        pendingLength += view.length - start;
      }
      if (zero !== -1) break;
    }
    // What is left is a fragment, and `bad` (if any) the last complete line: a torn append, ignored.
  } finally {
    closeSync(fd);
  }
}

/** One journal line's bytes as a record, or undefined when it is not a valid one. */
function recordAt(bytes: Buffer, check: ShapeCheck): JournalRecord | undefined {
  const parsed = parseLine(bytes, check);
  return parsed.ok ? (parsed.value as JournalRecord) : undefined;
}

/** Whether the file `fd` (of `size` bytes) ends in a zero byte, that is, was preallocated. */
function endsInZero(fd: number, size: number, file: string): boolean {
  if (size === 0) return false;
  try {
    return readAt(fd, size - 1, 1)[0] === ZERO;
  } catch (err) {
    throw readFailure(file, err);
  }
}

/**
 * Where the journal's valid content ends: after the last line that ends in
 * "\n" and is a record, skipping a fragment and one bad last line, as
 * {@link readJournal} does. Reads only the end of the file, unless the
 * file was preallocated (it ends in zero): its first zero byte is then
 * looked for from the start, since after a power loss a later part of the
 * append in flight may be on the disk with zeros before it.
 */
export function validEnd(fd: number, size: number, check: ShapeCheck = checkStoredRecord): { end: number; last: JournalRecord | undefined } {
  let end = size > 0 && readAt(fd, size - 1, 1)[0] === ZERO ? firstZero(fd, size) : size;
  if (end > 0 && readAt(fd, end - 1, 1)[0] !== NEWLINE) end = lineStart(fd, end);
  if (end === 0) return { end, last: undefined };
  const start = lineStart(fd, end - 1);
  const last = recordAt(readAt(fd, start, end - 1 - start), check);
  if (last) return { end, last };
  if (start === 0) return { end: 0, last: undefined };
  // The line before a bad last line is valid (else the journal is corrupt, which a load reports).
  const before = lineStart(fd, start - 1);
  return { end: start, last: recordAt(readAt(fd, before, start - 1 - before), check) };
}

/** The offset of the first zero byte of the file `fd`, which has one at `size - 1`. */
function firstZero(fd: number, size: number): number {
  for (let pos = 0; pos < size; pos += CHUNK) {
    const i = readAt(fd, pos, Math.min(CHUNK, size - pos)).indexOf(ZERO);
    if (i !== -1) return pos + i;
  }
  return size - 1;
}

/** The first look back for a line's start: a lease, release or chain record line is far shorter. */
const FIRST_LOOK = 4096;

/**
 * The offset just after the last "\n" before `end` (0 when there is none).
 * Looks back a page first, then twice as far each time up to `CHUNK`: the
 * last line is mostly short, and a megabyte read (of a run file whose last
 * line follows a big snapshot line) cost 0.2 ms a call.
 */
function lineStart(fd: number, end: number): number {
  let pos = end;
  let look = FIRST_LOOK;
  while (pos > 0) {
    const from = Math.max(0, pos - look);
    const chunk = readAt(fd, from, pos - from);
    const i = chunk.lastIndexOf(NEWLINE);
    if (i !== -1) return from + i + 1;
    pos = from;
    look = Math.min(CHUNK, look * 2);
  }
  return 0;
}

/** Up to `length` bytes at `position` (fewer at the file's end): only the bytes read are returned, so none is left unset. */
function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const bytesRead = readSync(fd, buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
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
   * `check` says what a valid line holds, as for {@link readJournal}.
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
