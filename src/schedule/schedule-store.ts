/**
 * Where schedules are kept: the {@link ScheduleStore} interface, a file
 * implementation next to the default run store, and one in memory.
 *
 * Every change is a read-modify-write through `update(id, change)`, made
 * under a per-schedule lock, so a `pause` from the command line and a
 * scheduler writing a history row never lose each other's change. The
 * file store keeps one superjson document per schedule,
 * `<dir>/schedules/<id>.json`, replaced atomically (temp file, rename), so
 * readers need no lock and a crash leaves the old or the new document. Its
 * lock is a folder made with `mkdir` (exactly one process creates it); a
 * lock older than 5 s was left by a crash and is broken.
 *
 * {@link scheduleStoreFor} finds the schedule store that goes with a run
 * store: a `LowdbStore`'s folder, or a `MemoryStore`'s own memory, so one
 * `store` option says where both runs and schedules live.
 *
 * @module
 */
import { chmod, mkdir, readFile, readdir, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InvalidOptionError, ScheduleNotFoundError, SnapshotCorruptError, describe } from "../errors.js";
import { writeFileAtomic } from "../persistence/atomic-file.js";
import { hasCode, takeFolderLock, type Unlock } from "../persistence/folder-lock.js";
import { LowdbStore } from "../persistence/lowdb-store.js";
import { MemoryStore } from "../persistence/memory-store.js";
import type { RunStore } from "../persistence/run-store.js";
import { deserialize, serialize } from "../persistence/serialization.js";
import { assertRunId } from "../runner/run-id.js";
import type { ScheduleRecord } from "./schedule-record.js";

/**
 * Where schedules are kept. Implement it to keep schedules elsewhere;
 * `update` must be atomic with respect to other processes.
 *
 * @example
 * ```ts
 * const schedules: ScheduleStore = new FileScheduleStore({ dir: "./.taskloom" });
 * for (const s of await schedules.list()) console.log(s.id, s.status);
 * ```
 */
export interface ScheduleStore {
  /** Stores a new schedule; throws when one with its id exists. */
  create(record: ScheduleRecord): Promise<void>;
  /** The schedule, or undefined. */
  get(id: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, oldest first. */
  list(): Promise<ScheduleRecord[]>;
  /**
   * Replaces the schedule with `change(current)`, atomically; nothing is
   * written when `change` returns `current` itself or throws. Throws
   * `ScheduleNotFoundError` when there is no such schedule.
   */
  update(id: string, change: (current: ScheduleRecord) => ScheduleRecord): Promise<ScheduleRecord>;
  /** Deletes the schedule and its history; false when there was none. */
  delete(id: string): Promise<boolean>;
}

/**
 * Keeps schedules in this process's memory, for tests.
 *
 * @example
 * ```ts
 * const store = new MemoryStore();
 * await schedule(g, inputs, { when: "5m", store }); // kept by scheduleStoreFor(store), a MemoryScheduleStore
 * ```
 */
export class MemoryScheduleStore implements ScheduleStore {
  readonly #records = new Map<string, ScheduleRecord>();

  async create(record: ScheduleRecord): Promise<void> {
    if (this.#records.has(record.id)) throw new Error(`taskloom: a schedule with id "${record.id}" already exists`);
    this.#records.set(record.id, record);
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    return this.#records.get(id);
  }

  async list(): Promise<ScheduleRecord[]> {
    return [...this.#records.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async update(id: string, change: (current: ScheduleRecord) => ScheduleRecord): Promise<ScheduleRecord> {
    const current = this.#records.get(id);
    if (!current) throw new ScheduleNotFoundError(id);
    const next = change(current);
    if (next !== current) this.#records.set(id, next);
    return next;
  }

  async delete(id: string): Promise<boolean> {
    return this.#records.delete(id);
  }
}

/** Options of {@link FileScheduleStore}. */
export interface FileScheduleStoreOptions {
  /** The store folder; schedules go in its `schedules/` subfolder. @default process.env.TASKLOOM_DIR, else "./.taskloom" */
  readonly dir?: string;
}

const DIR_MODE = 0o700;

/**
 * Keeps schedules as files, `<dir>/schedules/<id>.json`: the default,
 * next to the runs of a `LowdbStore` on the same folder.
 *
 * @example
 * ```ts
 * const schedules = new FileScheduleStore({ dir: "/var/lib/myapp/taskloom" });
 * ```
 */
export class FileScheduleStore implements ScheduleStore {
  /** The folder schedules are kept in (`<dir>/schedules`). */
  readonly folder: string;

  constructor(options: FileScheduleStoreOptions = {}) {
    this.folder = join(resolve(options.dir ?? (process.env.TASKLOOM_DIR || ".taskloom")), "schedules");
  }

  async create(record: ScheduleRecord): Promise<void> {
    assertRunId(record.id);
    await this.#ensureFolder();
    const unlock = await this.#lock(record.id);
    try {
      if (await this.#read(record.id)) throw new Error(`taskloom: a schedule with id "${record.id}" already exists`);
      await writeFileAtomic(this.#file(record.id), serialize(record));
    } finally {
      await unlock();
    }
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    assertRunId(id);
    return this.#read(id);
  }

  async list(): Promise<ScheduleRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (err) {
      if (hasCode(err, "ENOENT")) return [];
      throw err;
    }
    const out: ScheduleRecord[] = [];
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const id = name.slice(0, -".json".length);
      if (!isValidId(id)) continue;
      const record = await this.#read(id);
      if (record) out.push(record);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  async update(id: string, change: (current: ScheduleRecord) => ScheduleRecord): Promise<ScheduleRecord> {
    assertRunId(id);
    const unlock = await this.#lock(id);
    try {
      const current = await this.#read(id);
      if (!current) throw new ScheduleNotFoundError(id);
      const next = change(current);
      if (next !== current) await writeFileAtomic(this.#file(id), serialize(next));
      return next;
    } finally {
      await unlock();
    }
  }

  async delete(id: string): Promise<boolean> {
    assertRunId(id);
    const unlock = await this.#lock(id);
    try {
      try {
        await unlink(this.#file(id));
        return true;
      } catch (err) {
        if (hasCode(err, "ENOENT")) return false;
        throw err;
      }
    } finally {
      await unlock();
    }
  }

  #file(id: string): string {
    return join(this.folder, `${id}.json`);
  }

  async #read(id: string): Promise<ScheduleRecord | undefined> {
    const file = this.#file(id);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if (hasCode(err, "ENOENT")) return undefined;
      throw err;
    }
    let value: unknown;
    try {
      value = deserialize(text);
    } catch (err) {
      throw new SnapshotCorruptError(file, `it is not a valid schedule document: ${describe(err)}`, { cause: err });
    }
    const v = value as Partial<ScheduleRecord> | null;
    if (!v || typeof v !== "object" || v.version !== 1 || v.id !== id || !Array.isArray(v.history)) {
      throw new SnapshotCorruptError(file, `it is not a schedule document for "${id}"`);
    }
    return value as ScheduleRecord;
  }

  async #ensureFolder(): Promise<void> {
    const created = await mkdir(this.folder, { recursive: true, mode: DIR_MODE });
    if (created !== undefined) await chmod(this.folder, DIR_MODE);
  }

  async #lock(id: string): Promise<Unlock> {
    const unlock = await takeFolderLock(join(this.folder, `${id}.lock`), {
      what: `the lock of schedule "${id}"`,
      createParent: () => this.#ensureFolder(),
    });
    if (!unlock) throw new Error(`taskloom internal error: no lock for schedule "${id}"`);
    return unlock;
  }

}

const byRunStore = new WeakMap<object, ScheduleStore>();
const byDir = new Map<string, FileScheduleStore>();

/**
 * The schedule store that goes with a run store: a {@link FileScheduleStore}
 * on a `LowdbStore`'s folder, a {@link MemoryScheduleStore} per
 * `MemoryStore`. Other run stores need an explicit `schedules` option.
 *
 * @example
 * ```ts
 * const schedules = scheduleStoreFor(new LowdbStore({ dir: "./data" })); // ./data/schedules/
 * ```
 */
export function scheduleStoreFor(runStore: RunStore): ScheduleStore {
  const known = byRunStore.get(runStore);
  if (known) return known;
  let store: ScheduleStore;
  if (runStore instanceof LowdbStore) {
    store = byDir.get(runStore.dir) ?? new FileScheduleStore({ dir: runStore.dir });
    byDir.set(runStore.dir, store as FileScheduleStore);
  } else if (runStore instanceof MemoryStore) {
    store = new MemoryScheduleStore();
  } else {
    throw new InvalidOptionError(
      "schedules",
      "is needed with this run store: taskloom keeps schedules next to a LowdbStore or a MemoryStore only. Pass { schedules: <a ScheduleStore> } as well",
    );
  }
  byRunStore.set(runStore, store);
  return store;
}

/** Throws unless `value` implements {@link ScheduleStore}. */
export function assertScheduleStore(value: unknown): asserts value is ScheduleStore {
  const missing = ["create", "get", "list", "update", "delete"].filter((m) => typeof (value as Record<string, unknown> | null)?.[m] !== "function");
  if (missing.length > 0) throw new InvalidOptionError("schedules", `must implement ScheduleStore (missing ${missing.join(", ")})`);
}

function isValidId(id: string): boolean {
  try {
    assertRunId(id);
    return true;
  } catch {
    return false;
  }
}


