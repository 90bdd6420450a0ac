/**
 * The schedule store that goes with a run store, so one `store` option
 * says where both runs and schedules live, and with which flushes: a
 * `LowdbStore`'s folder (its `schedules/` subfolder, with the run store's
 * `fsync` setting) or a `MemoryStore`'s own memory.
 *
 * @module
 */
import { InvalidOptionError } from "../errors.js";
import { LowdbStore } from "../persistence/lowdb-store.js";
import { MemoryStore } from "../persistence/memory-store.js";
import type { RunStore } from "../persistence/run-store.js";
import type { ScheduleStore } from "./schedule-store.js";
import { FileScheduleStore } from "./file-schedule-store.js";
import { MemoryScheduleStore } from "./memory-schedule-store.js";

const byRunStore = new WeakMap<object, ScheduleStore>();
/** File schedule stores by folder and `fsync` (`<fsync ? 1 : 0><dir>`). */
const byDir = new Map<string, FileScheduleStore>();

/**
 * The schedule store that goes with a run store: a {@link FileScheduleStore}
 * on a `LowdbStore`'s folder, with its `fsync` setting, a
 * {@link MemoryScheduleStore} per `MemoryStore`. Other run stores need an
 * explicit `schedules` option.
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
    const key = `${runStore.fsync ? 1 : 0}${runStore.dir}`;
    store = byDir.get(key) ?? new FileScheduleStore({ dir: runStore.dir, fsync: runStore.fsync });
    byDir.set(key, store as FileScheduleStore);
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
