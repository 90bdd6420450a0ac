/**
 * File work of `RunFileStore` (`run-file-store.ts`) that needs none of its
 * state: what a takeover waits for, how a start is written in pieces, the
 * names and the copy of a compaction's or takeover's temp file, and the
 * removal of temp files that a process which died left.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { randomUUID } from "node:crypto";
import { chmodSync, closeSync, lstatSync, mkdirSync, readdirSync, readSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { unlinkQuietly, writeAllSync } from "./atomic-file.js";
import { hasCode, LOCK_STALE_MS } from "./folder-lock.js";
import type { JournalFile } from "./journal-file.js";
import { validEnd } from "./journal-reading.js";
import { processAlive } from "./lease-rules.js";
import { checkRunFileLine } from "./run-file-lines.js";
import { checkedStats, openStoreFileSync } from "./store-files.js";
import type { JournalRecord } from "../state/records.js";

/** The file name suffix of a run file, `<runId>.run`. */
export const SUFFIX = ".run";

/**
 * Resolves once the run file `file` holds a whole line: a process that
 * made it writes its lease line right after, so a file without one
 * is a run being started (or one whose starter died before writing, once
 * it is older than `LOCK_STALE_MS`), and a takeover waits for it rather
 * than race the starter for token 1.
 */
export async function firstLeaseWritten(file: string): Promise<void> {
  for (;;) {
    const stats = lstatSync(file, { throwIfNoEntry: false });
    if (stats === undefined || Date.now() - stats.mtimeMs > LOCK_STALE_MS) return;
    if (stats.size > 0 && holdsALine(file)) return;
    await sleep(2);
  }
}

/**
 * Whether the run file `file` holds a whole valid line. With `fsync` a new
 * file is grown with zeros before its first line is written over them
 * (`journal-file.ts`, preallocation), so its size alone does not say so.
 */
function holdsALine(file: string): boolean {
  const opened = openStoreFileSync(file, "read", { singleLink: true });
  // Gone: the lock decides.
  if (opened === undefined) return true;
  try {
    return validEnd(opened.fd, opened.size, checkRunFileLine).end > 0;
  } finally {
    closeSync(opened.fd);
  }
}

/** Text gathered before a write by {@link appendPieces}: a small run's start is one write, a big one's a write per megabyte or so. */
const GATHER_CHARS = 1 << 20;

/** Appends `pieces` and then `tail` to `journal`, gathering them into writes of about {@link GATHER_CHARS}. */
export function appendPieces(journal: JournalFile, pieces: Iterable<string>, tail: string): void {
  let text = "";
  for (const piece of pieces) {
    if (text.length > 0 && text.length + piece.length > GATHER_CHARS) {
      journal.appendText(text, false);
      text = "";
    }
    text += piece;
  }
  journal.appendText(text + tail, false);
}

/**
 * The folder, in the store folder, that holds the temp files of run files
 * (a compaction's or a takeover's new file, a claim's new content) until
 * their rename, and those a crash left until a takeover or delete of their
 * run removes them ({@link removeLeftovers}). A folder of their own, not
 * the store folder beside the run files: finding a run's leftovers lists
 * this folder, which holds only the temp files of rewrites under way or
 * cut short, where it listed every run of the store (about 70 ms for each
 * resume and each delete in a store of 100,000 runs, so a `gc` of such a
 * store took hours). Renamed from there to the store folder: one file
 * system, so the rename stays atomic.
 */
const TEMP_FOLDER = "tmp";

/**
 * A new temp file's name for the run file or claim `file`, used once (a
 * process may get a dead one's pid): `<store>/tmp/<name>.<pid>.<random>.tmp`.
 * The folder is made (mode 0700) when missing; a link or anything not a
 * folder of this user at its name is `UnsafeStoreFileError`, with nothing
 * written (a temp file is then never made outside the store).
 */
export function tempOf(file: string): string {
  const folder = join(dirname(file), TEMP_FOLDER);
  let made = false;
  try {
    // Made first, checked after: mkdir does not follow a link at its own name (EEXIST, then the check refuses it).
    mkdirSync(folder, { mode: 0o700 });
    made = true;
  } catch (err) {
    if (!hasCode(err, "EEXIST")) throw err;
  }
  const stats = checkedStats(folder, "folder");
  // A umask may have taken the owner's bits off a folder made here.
  if (made && stats !== undefined && (stats.mode & 0o777) !== 0o700) chmodSync(folder, 0o700);
  return join(folder, `${basename(file)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
}

/** Copies the valid lines of the run file `file` (up to a torn tail, or a preallocated file's first zero) to `fd`, as they are. */
export function copyValidLines(file: string, fd: number): void {
  const opened = openStoreFileSync(file, "read", { singleLink: true });
  if (opened === undefined) return;
  try {
    const end = validEnd(opened.fd, opened.size, checkRunFileLine).end;
    const chunk = Buffer.allocUnsafe(Math.min(end, COPY_CHUNK));
    for (let at = 0; at < end;) {
      const n = readSync(opened.fd, chunk, 0, Math.min(chunk.length, end - at), at);
      if (n === 0) break;
      writeAllSync(fd, chunk.subarray(0, n));
      at += n;
    }
  } finally {
    closeSync(opened.fd);
  }
}

/** Bytes copied at a time by {@link copyValidLines}. */
const COPY_CHUNK = 1 << 20;

/**
 * Whether an append with `fsync` flushes on the calling thread (a single
 * record, or one whose last record is the run meta), as `LowdbStore`
 * decides (`lowdb-store.ts`, `flushesNow`).
 */
export function flushesNow(records: readonly JournalRecord[]): boolean {
  return records.length <= 1 || records[records.length - 1]!.kind === "run";
}

/**
 * Removes the temp files of run `runId` (`tmp/<runId>.run.<pid>.<random>.tmp`,
 * and its claim's `tmp/<runId>.run.claim.<pid>.<random>.tmp`) that a
 * compaction, takeover or claim of a process that died left, under the
 * run's lock (where they are made, so no live process writes one now):
 * those of a pid that no process has, or this process's (an earlier
 * process that had this pid), or older than `LOCK_STALE_MS` (a holder of a
 * lock judged stale is given as long as the lock was). Lists the temp
 * folder only ({@link TEMP_FOLDER}), never the store folder.
 */
export function removeLeftovers(dir: string, runId: string): void {
  const folder = join(dir, TEMP_FOLDER);
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (err) {
    // No temp folder: no rewrite ever ran in this store. ENOTDIR: not a folder, which the next rewrite refuses.
    if (hasCode(err, "ENOENT") || hasCode(err, "ENOTDIR")) return;
    throw err;
  }
  const prefix = runId + SUFFIX + ".";
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(".tmp")) continue;
    // Exactly `[claim.]<pid>.<8 hex>.tmp` after the prefix: run ids may hold dots, so `b.run.7.run.…` is not run `b`'s.
    const own = /^(?:claim\.)?(\d+)\.[0-9a-f]{8}\.tmp$/.exec(name.slice(prefix.length));
    if (own === null) continue;
    const pid = Number(own[1]);
    const path = join(folder, name);
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (stats?.isFile() !== true) continue;
    const dead = Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid || !processAlive(pid));
    if (dead || now - stats.mtimeMs > LOCK_STALE_MS) unlinkQuietly(path);
  }
}
