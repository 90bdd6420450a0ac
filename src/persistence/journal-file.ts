/**
 * A run's journal file, `journal.ndjson`: one superjson `JournalRecord` per
 * line, appended. Its rules:
 *
 * - A line counts only when it ends in "\n", parses, and has a journal
 *   record's shape (`snapshot-schema.ts`). A crash may tear the last
 *   append, so the file may end in a fragment (no "\n") and its last
 *   complete line may be bad: both are ignored when reading, and cut off
 *   before the next append ({@link validEnd}). A bad line with a complete
 *   line after it is corruption: `SnapshotCorruptError` naming the file.
 * - The file is read in chunks and line by line ({@link readJournal}),
 *   never as one string, so its size is bounded by the disk, not by the
 *   longest string V8 can make (about 512 MB); only one line at a time is
 *   held as text.
 * - Appends are single synchronous writes ({@link writeAll}) through a
 *   descriptor opened and checked as `store-files.ts` says. Reads are
 *   synchronous too, a chunk at a time: a journal is read when a run is
 *   loaded or compacted, and the thread pool would add a round trip per
 *   chunk and per open, check and close.
 *
 * @module
 */
import { constants as bufferConstants } from "node:buffer";
import { closeSync, readSync } from "node:fs";
import { SnapshotCorruptError } from "./errors.js";
import type { JournalRecord } from "../state/records.js";
import { checkRecord } from "./snapshot-schema.js";
import { serialize } from "./serialization.js";
import { parseDocument, type Parsed } from "./stored-document.js";
import { openStoreFileSync, readFailure } from "./store-files.js";
import { writeAllSync } from "./atomic-file.js";

const NEWLINE = 0x0a;
/** Bytes read at a time, forwards when reading, backwards when looking for the last line. */
const CHUNK = 1024 * 1024;

/** An empty journal's highest seq. */
export const EMPTY = Number.NEGATIVE_INFINITY;

/** The highest seq among `records`, or {@link EMPTY}. */
export function topSeq(records: readonly JournalRecord[]): number {
  let top = EMPTY;
  for (const r of records) if (r.seq > top) top = r.seq;
  return top;
}

/** The text of `records`, one line each. */
export function journalText(records: readonly JournalRecord[]): string {
  let text = "";
  for (const r of records) text += serialize(r) + "\n";
  return text;
}

/** One journal line (without its "\n") as a record, or what is wrong with it. */
function parseLine(bytes: Buffer): Parsed {
  if (bytes.length > bufferConstants.MAX_STRING_LENGTH) return { ok: false, problem: `it is too long to read (${bytes.length} bytes)` };
  return parseDocument(bytes.toString("utf8"), checkRecord);
}

/**
 * Reads a journal's records in order, handing each to `onRecord` (which may
 * throw to refuse one). A missing file has none. The last complete line is
 * dropped when it is bad, and a fragment after it always; any other bad
 * line is `SnapshotCorruptError` naming the file.
 */
export function readJournal(file: string, onRecord: (record: JournalRecord) => void): void {
  // One name only even to read it: the journal is written in place later, so a hard link is refused before anything runs.
  const opened = openStoreFileSync(file, "read", { singleLink: true });
  if (!opened) return;
  const fd = opened.fd;
  try {
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
      const view = chunk.subarray(0, bytesRead);
      let start = 0;
      for (let nl = view.indexOf(NEWLINE, start); nl !== -1; nl = view.indexOf(NEWLINE, start)) {
        const piece = view.subarray(start, nl);
        const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece], pendingLength + piece.length);
        pending = [];
        pendingLength = 0;
        start = nl + 1;
        line += 1;
        if (bad) throw new SnapshotCorruptError(file, `line ${bad.line} is not a valid journal record (${bad.problem}), and records follow it`);
        const parsed = parseLine(bytes);
        if (parsed.ok) onRecord(parsed.value as JournalRecord);
        else bad = { line, problem: parsed.problem };
      }
      if (start < view.length) {
        pending.push(view.subarray(start));
        pendingLength += view.length - start;
      }
    }
    // What is left is a fragment, and `bad` (if any) the last complete line: a torn append, ignored.
  } finally {
    closeSync(fd);
  }
}

/** One journal line's bytes as a record, or undefined when it is not a valid one. */
function recordAt(bytes: Buffer): JournalRecord | undefined {
  const parsed = parseLine(bytes);
  return parsed.ok ? (parsed.value as JournalRecord) : undefined;
}

/**
 * Where the journal's valid content ends: after the last line that ends in
 * "\n" and is a record, skipping a fragment and one bad last line, as
 * {@link readJournal} does. Reads only the end of the file.
 */
export function validEnd(fd: number, size: number): { end: number; last: JournalRecord | undefined } {
  let end = size;
  if (end > 0 && readAt(fd, end - 1, 1)[0] !== NEWLINE) end = lineStart(fd, end);
  if (end === 0) return { end, last: undefined };
  const start = lineStart(fd, end - 1);
  const last = recordAt(readAt(fd, start, end - 1 - start));
  if (last) return { end, last };
  if (start === 0) return { end: 0, last: undefined };
  // The line before a bad last line is valid (else the journal is corrupt, which a load reports).
  const before = lineStart(fd, start - 1);
  return { end: start, last: recordAt(readAt(fd, before, start - 1 - before)) };
}

/** The offset just after the last "\n" before `end` (0 when there is none). */
function lineStart(fd: number, end: number): number {
  let pos = end;
  while (pos > 0) {
    const from = Math.max(0, pos - CHUNK);
    const chunk = readAt(fd, from, pos - from);
    const i = chunk.lastIndexOf(NEWLINE);
    if (i !== -1) return from + i + 1;
    pos = from;
  }
  return 0;
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const bytesRead = readSync(fd, buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/** Writes every byte of `buffer` at the end of the file `fd` was opened on (in append mode). */
export function writeAll(fd: number, buffer: Buffer): void {
  writeAllSync(fd, buffer);
}
