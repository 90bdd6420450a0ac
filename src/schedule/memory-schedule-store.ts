/**
 * Schedules in this process's memory: the {@link ScheduleStore} of a
 * `MemoryStore` (`scheduleStoreFor`), for tests.
 *
 * @module
 */
import { deserialize, serialize } from "../persistence/serialization.js";
import type { ScheduleRecord } from "./schedule-record.js";
import type { ScheduleStore } from "./schedule-store.js";
import { ScheduleExistsError, ScheduleNotFoundError } from "./errors.js";

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
    if (this.#records.has(record.id)) throw new ScheduleExistsError(record.id);
    // A copy, as the file store keeps one: the caller's inputs and metadata objects may change after schedule().
    this.#records.set(record.id, deserialize<ScheduleRecord>(serialize(record)));
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
