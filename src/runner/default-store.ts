/**
 * The store used when a caller passes none: one `LowdbStore` per folder
 * (`TASKLOOM_DIR`, or `./.taskloom` under the working directory), shared
 * by every run in the process so its file handles are shared too.
 *
 * @module
 */
import { resolve } from "node:path";
import { LowdbStore } from "../persistence/lowdb-store.js";
import type { RunStore } from "../persistence/run-store.js";

const stores = new Map<string, LowdbStore>();

/** The folder the default store uses now. */
export function defaultStoreDir(): string {
  return resolve(process.env.TASKLOOM_DIR || ".taskloom");
}

/**
 * The default store for the current `TASKLOOM_DIR`.
 *
 * @example
 * ```ts
 * const runs = await defaultStore().list({ status: "failed" });
 * ```
 */
export function defaultStore(): RunStore {
  const dir = defaultStoreDir();
  let store = stores.get(dir);
  if (!store) {
    store = new LowdbStore({ dir });
    stores.set(dir, store);
  }
  return store;
}
