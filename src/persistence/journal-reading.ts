/**
 * How a journal file is read (`journal-file.ts` writes it; a run file,
 * `run-file-lines.ts`, follows the same rules with its own line check):
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
 *   every journal was before it) is read as it always was. To find where
 *   the records of one that ends in zero stop ({@link validEnd}: `list` of
 *   a run file, a look at its lease, an open for appends), every byte
 *   before its first zero is looked at, since that zero may be anywhere
 *   before its last line: a scan for a zero byte alone (nothing parsed),
 *   through one 64 KiB buffer kept for the process, about 40 to 80 µs a
 *   megabyte from the page cache.
 * - The file is read in chunks and line by line ({@link readJournal}),
 *   never as one string, so its size is bounded by the disk, not by the
 *   longest string V8 can make (about 512 MB); only one line at a time is
 *   held as text.
 *
 * @module
 */
// Imported, not the global: `Buffer` on `globalThis` is a getter.
import { Buffer, constants as bufferConstants, isUtf8 } from "node:buffer";
import { closeSync, readSync } from "node:fs";
import { SnapshotCorruptError } from "./errors.js";
import type { JournalRecord } from "../state/records.js";
import { checkStoredRecord } from "./journal-batch.js";
import { parseDocument, type Parsed, type ShapeCheck } from "./stored-document.js";
import { openStoreFileSync, readFailure } from "./store-files.js";

const NEWLINE = 0x0a;
const ZERO = 0x00;
/** Bytes read at a time, forwards when reading, backwards when looking for the last line. */
const CHUNK = 1024 * 1024;

/**
 * One journal line (without its "\n") as a record (a value `check` passes),
 * or what is wrong with it. A line that is not valid UTF-8 is damaged: a
 * store writes every line as UTF-8 (JSON escapes lone surrogates), and
 * decoding it anyway would put U+FFFD in place of the damaged bytes, a
 * saved value silently changed. The bytes are checked (`isUtf8`) only
 * when the text holds a U+FFFD, which may also be the user's own: looking
 * for it in a line of one-byte text costs nothing, where `isUtf8` on every
 * line cost about 30 ns of its 550 (the parse), 0.3 ms of a 10,000-line load.
 */
function parseLine(bytes: Buffer, check: ShapeCheck): Parsed {
  if (bytes.length > bufferConstants.MAX_STRING_LENGTH) return { ok: false, problem: `it is too long to read (${bytes.length} bytes)` };
  const text = bytes.toString("utf8");
  if (text.includes("\uFFFD") && !isUtf8(bytes)) return { ok: false, problem: "it is not valid UTF-8 text: a byte of it was damaged" };
  return parseDocument(text, check);
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

/**
 * Bytes looked at a time for a preallocated file's first zero, through one
 * buffer kept for the process ({@link firstZero}): a fresh buffer per file,
 * as big as the file up to `CHUNK`, cost a 300 KiB run file 35 to 90 µs
 * (its pages faulted in), this one about 11 µs; 64 KiB stays in the cache
 * (32 KiB and 128 KiB were slower).
 */
const SCAN = 64 * 1024;
let scan: Buffer | undefined;

/**
 * The offset of the first zero byte of the file `fd`, which has one at
 * `size - 1`. From the start, not from the end: the zeros before the last
 * line may be anywhere (a power loss keeps a later page of the append in
 * flight and not an earlier one, a big run's start is several writes), and
 * only the first one ends the lines, so every byte before the end must be
 * looked at to know there is none.
 */
function firstZero(fd: number, size: number): number {
  scan ??= Buffer.allocUnsafe(SCAN);
  for (let pos = 0; pos < size; pos += SCAN) {
    // Only the bytes read: a file its writer cut meanwhile reads short, and the rest of the buffer is another file's.
    const i = scan.subarray(0, readInto(fd, scan, pos, Math.min(SCAN, size - pos))).indexOf(ZERO);
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

/** Up to `length` bytes at `position` of the file `fd` (fewer at its end): only the bytes read are returned, so none is left unset. */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  return buffer.subarray(0, readInto(fd, buffer, position, length));
}

/** Reads up to `length` bytes at `position` of the file `fd` into the start of `buffer` (fewer at its end); how many it read. */
function readInto(fd: number, buffer: Buffer, position: number, length: number): number {
  let done = 0;
  while (done < length) {
    const bytesRead = readSync(fd, buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}
