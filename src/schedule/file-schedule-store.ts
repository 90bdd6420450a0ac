/**
 * Schedules as files, `<dir>/schedules/<id>.json`: the
 * {@link ScheduleStore} next to a `LowdbStore` on the same folder.
 *
 * Every change is a read-modify-write through `update(id, change)`, made
 * under a per-schedule lock, so a `pause` from the command line and a
 * scheduler writing a history row never lose each other's change. The
 * file store keeps one superjson document per schedule,
 * `<dir>/schedules/<id>.json`, replaced atomically (temp file, rename), so
 * readers need no lock and a crash leaves the old or the new document. Its
 * lock is a folder made with `mkdir` (exactly one process creates it),
 * naming its holder: it is broken at once when that holder is a dead
 * process of this host, never while it is a live one (even one stalled
 * for seconds), and otherwise once older than 5 s (`schedule-file-lock.ts`).
 *
 * Power loss. Without `fsync`, as a `LowdbStore` without it, a document is
 * durable against a crash of the process, not of the machine: a rename
 * can reach the disk before the content it names, and a power loss then
 * leaves the file blank (empty, or its new size in zeros on ext4 and XFS)
 * where the old document was. With `fsync` (given by
 * `scheduleStoreFor` when the run store has it), the new content is
 * flushed before its rename and the folder after it, the folder after a
 * delete (a deleted schedule must not come back and fire), and the
 * folders above a schedules folder this store made: a power loss leaves
 * the old document or the new one, as a run's snapshot. A schedule is the
 * user's data, so a blank file is never read as absent: it is a
 * `ScheduleCorruptError` whose detail says what made it.
 *
 * A schedule file that cannot be read (blank, cut short, not the shape
 * of a schedule: `schedule-shape.ts`) is a `ScheduleCorruptError` naming
 * it, and is never written over; `list` skips it, reports it through its
 * `onProblem` callback, and returns the others, so one bad file never
 * stops every schedule. A write the file system refuses (disk full,
 * read-only folder) is a `SchedulePersistenceError` with the cause.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { chmod, lstat, mkdir, readdir, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { TaskloomError, describe } from "../errors.js";
import { syncFolder, syncMadeFolders, writeFileAtomic } from "../persistence/atomic-file.js";
import { assertFileStoreOptions } from "../persistence/file-store-options.js";
import { assertKnownKeys } from "../core/known-keys.js";
import { isBlank } from "../persistence/stored-document.js";
import { hasCode } from "../persistence/folder-lock.js";
import { openStoreFile } from "../persistence/store-files.js";
import { deserialize, serialize } from "../persistence/serialization.js";
import { UnsafeStoreFileError } from "../persistence/errors.js";
import type { ScheduleRecord } from "./schedule-record.js";
import type { ScheduleListOptions, ScheduleStore } from "./schedule-store.js";
import { assertScheduleId, isScheduleId } from "./schedule-id.js";
import { scheduleShapeProblem } from "./schedule-shape.js";
import { takeScheduleLock, type ScheduleLock } from "./schedule-file-lock.js";
import { ScheduleCorruptError, ScheduleExistsError, ScheduleLockError, ScheduleNotFoundError, SchedulePersistenceError } from "./errors.js";

/** Options of {@link FileScheduleStore}. */
export interface FileScheduleStoreOptions {
  /** The store folder; schedules go in its `schedules/` subfolder. @default process.env.TASKLOOM_DIR, else "./.taskloom" */
  readonly dir?: string;
  /**
   * Flush every write to the disk before it counts, as `LowdbStore({ fsync: true })`
   * does for runs: a schedule then survives a power loss as the old or the new
   * document, never a blank file. {@link scheduleStoreFor} passes the run store's setting.
   * @default false
   */
  readonly fsync?: boolean;
}

const DIR_MODE = 0o700;

/**
 * Keeps schedules as files, `<dir>/schedules/<id>.json`: the default,
 * next to the runs of a `LowdbStore` on the same folder. With `fsync`,
 * every write is flushed before it counts (see the module comment, "Power
 * loss").
 *
 * @example
 * ```ts
 * const schedules = new FileScheduleStore({ dir: "/var/lib/myapp/taskloom", fsync: true });
 * ```
 */
export class FileScheduleStore implements ScheduleStore {
  /** The folder schedules are kept in (`<dir>/schedules`). */
  readonly folder: string;
  /** Whether every write is flushed to the disk before it counts (the `fsync` option). */
  readonly fsync: boolean;

  constructor(options: FileScheduleStoreOptions = {}) {
    assertKnownKeys("FileScheduleStore", options, ["dir", "fsync"]);
    assertFileStoreOptions("FileScheduleStore", options);
    this.folder = join(resolve(options.dir ?? (process.env.TASKLOOM_DIR || ".taskloom")), "schedules");
    this.fsync = options.fsync ?? false;
  }

  async create(record: ScheduleRecord): Promise<void> {
    assertScheduleId(record.id);
    await saving(record.id, () => this.#ensureFolder());
    const lock = await this.#lock(record.id);
    try {
      if (await this.#exists(record.id)) throw new ScheduleExistsError(record.id);
      await this.#write(record, lock);
    } finally {
      lock.release();
    }
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    assertScheduleId(id);
    return this.#read(id);
  }

  async list(options: ScheduleListOptions = {}): Promise<ScheduleRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (err) {
      if (hasCode(err, "ENOENT")) return [];
      throw new ScheduleCorruptError(this.folder, undefined, `the schedules folder cannot be listed: ${describe(err)}`, { cause: err });
    }
    const out: ScheduleRecord[] = [];
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const id = name.slice(0, -".json".length);
      if (!isScheduleId(id)) continue;
      try {
        const record = await this.#read(id);
        if (record) out.push(record);
      } catch (err) {
        if (!(err instanceof ScheduleCorruptError)) throw err;
        options.onProblem?.({ scheduleId: id, file: err.file, error: err, digest: digestOf(err) });
      }
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async update(id: string, change: (current: ScheduleRecord) => ScheduleRecord): Promise<ScheduleRecord> {
    assertScheduleId(id);
    const lock = await this.#lock(id);
    try {
      const current = await this.#read(id);
      if (!current) throw new ScheduleNotFoundError(id);
      const next = change(current);
      if (next !== current) await this.#write(next, lock);
      return next;
    } finally {
      lock.release();
    }
  }

  async delete(id: string): Promise<boolean> {
    assertScheduleId(id);
    const lock = await this.#lock(id);
    try {
      return await saving(id, async () => {
        assertStillHeld(id, lock);
        try {
          await unlink(this.#file(id));
        } catch (err) {
          if (hasCode(err, "ENOENT")) return false;
          throw err;
        }
        // A delete lost to a power loss would bring the schedule back, and it would fire.
        if (this.fsync) syncFolder(this.folder);
        return true;
      });
    } finally {
      lock.release();
    }
  }

  #file(id: string): string {
    return join(this.folder, `${id}.json`);
  }

  async #write(record: ScheduleRecord, lock: ScheduleLock): Promise<void> {
    const text = serialize(record);
    // With fsync: the content before its rename, the folder after it (writeFileAtomic).
    await saving(record.id, () => {
      assertStillHeld(record.id, lock);
      return writeFileAtomic(this.#file(record.id), text, this.fsync);
    });
  }

  /** True when a file (readable or not) holds this schedule: a corrupt file is never written over. */
  async #exists(id: string): Promise<boolean> {
    try {
      await lstat(this.#file(id));
      return true;
    } catch (err) {
      if (hasCode(err, "ENOENT")) return false;
      throw new ScheduleCorruptError(this.#file(id), id, `it cannot be looked at: ${describe(err)}`, { cause: err });
    }
  }

  async #read(id: string): Promise<ScheduleRecord | undefined> {
    const file = this.#file(id);
    let bytes: Buffer;
    try {
      // Opened without following a link, and checked through the handle (a plain file of this user), as run files are.
      const handle = await openStoreFile(file, "read");
      if (!handle) return undefined;
      try {
        bytes = await handle.readFile();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (hasCode(err, "ENOENT")) return undefined;
      if (err instanceof UnsafeStoreFileError) {
        // Skipped and reported like a damaged file (listSchedules' onProblem), never read through.
        const what = `it is not a file taskloom can trust (a link, not a plain file, or another user's): nothing was read through it`;
        throw withDigest(new ScheduleCorruptError(file, id, what, { cause: err }), `${file}:${what}`);
      }
      const what = hasCode(err, "EISDIR") ? "it is a folder, not a file" : `it cannot be read: ${describe(err)}`;
      throw withDigest(new ScheduleCorruptError(file, id, what, { cause: err }), `${file}:${what}`);
    }
    const corrupt = (detail: string, cause?: unknown): ScheduleCorruptError =>
      withDigest(new ScheduleCorruptError(file, id, detail, cause === undefined ? undefined : { cause }), createHash("sha256").update(bytes).digest("hex"));
    if (bytes.length === 0 || (bytes[0] === 0 && isBlank(bytes.toString("latin1")))) throw corrupt(blankDetail(bytes.length, this.fsync));
    let value: unknown;
    try {
      value = deserialize(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    } catch (err) {
      throw corrupt(`it is not a valid schedule document: ${describe(err)}`, err);
    }
    const problem = scheduleShapeProblem(value, id);
    if (problem !== undefined) throw corrupt(`it is not a schedule document for "${id}": ${problem}`);
    return value as ScheduleRecord;
  }

  async #ensureFolder(): Promise<void> {
    const created = await mkdir(this.folder, { recursive: true, mode: DIR_MODE });
    if (created === undefined) return;
    await chmod(this.folder, DIR_MODE);
    // Each folder made here is named in the one above it: flushed from the schedules folder's parent up to the
    // parent of the first one made (the store's folder, when it was missing too).
    if (this.fsync) syncMadeFolders(this.folder, created);
  }

  /** The schedule's lock, judged by its holder's liveness, never broken while it lives (`schedule-file-lock.ts`). */
  async #lock(id: string): Promise<ScheduleLock> {
    return saving(id, () =>
      takeScheduleLock(join(this.folder, `${id}.lock`), {
        what: `the lock of schedule "${id}"`,
        scheduleId: id,
        createParent: () => this.#ensureFolder(),
      }),
    );
  }
}

/**
 * Refuses to write when this process's lock of schedule `id` was broken
 * meanwhile (its holder on another host took it for stale): what it read
 * may be out of date, and writing would undo the other process's change.
 */
function assertStillHeld(id: string, lock: ScheduleLock): void {
  if (!lock.stillHeld()) {
    throw new ScheduleLockError(
      id,
      `its lock was taken by another process while this one was stalled, so what this one read may be out of date; nothing was written, try again`,
    );
  }
}

/**
 * Why a blank schedule file (`size` bytes, all zeros, or none) is corrupt: what
 * leaves one, and, on a store without `fsync`, what prevents it.
 */
function blankDetail(size: number, fsync: boolean): string {
  const what = size === 0 ? "it is empty" : `it holds only zero bytes (${size})`;
  const why = "what a power loss leaves of a file whose new content had not reached the disk";
  return fsync
    ? `${what}: ${why}, if a store without fsync wrote it (this one flushes every schedule write), or a change made outside taskloom`
    : `${what}: ${why}; a store made with fsync: true flushes every schedule write first`;
}

/** Runs a file system step of schedule `id`; a failure of the file system is a `SchedulePersistenceError` with it as cause. */
async function saving<T>(id: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof TaskloomError) throw err;
    throw new SchedulePersistenceError(id, err);
  }
}

const digests = new WeakMap<ScheduleCorruptError, string>();

function withDigest(error: ScheduleCorruptError, digest: string): ScheduleCorruptError {
  digests.set(error, digest);
  return error;
}

function digestOf(error: ScheduleCorruptError): string | undefined {
  return digests.get(error);
}
