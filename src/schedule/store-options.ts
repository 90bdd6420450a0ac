/**
 * Where schedules (and their runs) are kept, as every schedule operation
 * names it: a run store (the default `LowdbStore` when none is given) and
 * a schedule store (next to the run store unless given).
 *
 * Invariants: a given store is checked to be one before it is used; the
 * options object of an operation is an object with only known keys
 * (did-you-mean hint otherwise).
 *
 * @module
 */
import { assertKnownKeys } from "../core/known-keys.js";
import { InvalidOptionError } from "../errors.js";
import type { RunStore } from "../persistence/run-store.js";
import { defaultStore } from "../runner/default-store.js";
import { assertStore } from "../runner/run-options.js";
import { assertScheduleStore, type ScheduleStore } from "./schedule-store.js";
import { scheduleStoreFor } from "./schedule-store-for.js";

/** Where schedules (and their runs) are kept. */
export interface ScheduleStoreOption {
  /** The run store; schedules are kept next to it. @default the default `LowdbStore` */
  readonly store?: RunStore;
  /** Where schedules are kept, when not next to `store`. @default `scheduleStoreFor(store)` */
  readonly schedules?: ScheduleStore;
}

/** The two stores an operation uses. */
export interface ResolvedStores {
  readonly runs: RunStore;
  readonly schedules: ScheduleStore;
}

/** The options of an operation that takes only the stores. */
export const STORE_KEYS = ["store", "schedules"];

/** The run store and schedule store `options` name. */
export function storesOf(options: ScheduleStoreOption = {}): ResolvedStores {
  if (options.store !== undefined) assertStore(options.store);
  if (options.schedules !== undefined) assertScheduleStore(options.schedules);
  const runs = options.store ?? defaultStore();
  return { runs, schedules: options.schedules ?? scheduleStoreFor(runs) };
}

/** Throws `InvalidOptionError` unless `options` is an object with only `known` keys. */
export function assertOptionsObject(what: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("options", `of ${what} must be an object`);
  assertKnownKeys(what, options, known);
}
