/**
 * Where schedules are kept: the {@link ScheduleStore} interface that the
 * scheduler and the schedule functions use, and its check. Its
 * implementations: a file store next to the default run store
 * (`file-schedule-store.ts`) and one in memory
 * (`memory-schedule-store.ts`); `schedule-store-for.ts` finds the one that
 * goes with a run store.
 *
 * Every change is a read-modify-write through `update(id, change)`, made
 * atomically with respect to other processes, so a `pause` from the
 * command line and a scheduler writing a history row never lose each
 * other's change. A stored schedule that cannot be read is skipped by
 * `list` and given to its `onProblem` callback, so one bad file never
 * stops every schedule.
 *
 * @module
 */
import { InvalidOptionError, type TaskloomError } from "../errors.js";
import type { ScheduleRecord } from "./schedule-record.js";

/** A stored schedule that `list` skipped because it cannot be read. */
export interface ScheduleProblem {
  /** The schedule the entry is named after. */
  readonly scheduleId: string;
  /** Its file, for a file store. */
  readonly file?: string;
  /** Why it was skipped (a `ScheduleCorruptError` for a file that cannot be read). */
  readonly error: TaskloomError;
  /** A digest of the bad content, when known: the same bad file gives the same digest. */
  readonly digest?: string;
}

/** Options of {@link ScheduleStore.list}. */
export interface ScheduleListOptions {
  /** Called for each stored schedule that cannot be read and was skipped. @default skipped without a report */
  readonly onProblem?: (problem: ScheduleProblem) => void;
}

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
  /** Stores a new schedule; throws `ScheduleExistsError` when one with its id exists. */
  create(record: ScheduleRecord): Promise<void>;
  /** The schedule, or undefined. */
  get(id: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule that can be read, oldest first; the others are skipped and given to `onProblem`. */
  list(options?: ScheduleListOptions): Promise<ScheduleRecord[]>;
  /**
   * Replaces the schedule with `change(current)`, atomically; nothing is
   * written when `change` returns `current` itself or throws. Throws
   * `ScheduleNotFoundError` when there is no such schedule.
   */
  update(id: string, change: (current: ScheduleRecord) => ScheduleRecord): Promise<ScheduleRecord>;
  /** Deletes the schedule and its history; false when there was none. */
  delete(id: string): Promise<boolean>;
}

/** Throws unless `value` implements {@link ScheduleStore}. */
export function assertScheduleStore(value: unknown): asserts value is ScheduleStore {
  const missing = ["create", "get", "list", "update", "delete"].filter((m) => typeof (value as Record<string, unknown> | null)?.[m] !== "function");
  if (missing.length > 0) throw new InvalidOptionError("schedules", `must implement ScheduleStore (missing ${missing.join(", ")})`);
}
