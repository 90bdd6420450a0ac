/**
 * Temporary folders and `LowdbStore`s for a test file, all cleaned up after
 * the file's tests: `const { tempDir, lowdb } = tempStores("taskloom-x-")`.
 * The stores keep new runs as `LowdbStore` does by default unless the file
 * asks for a layout: `tempStores("taskloom-x-", { layout: "folders" })`
 * (every store it makes), or `lowdb(dir, { layout: "folders" })` (one).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { LowdbStore, type LowdbStoreOptions } from "../../src/index.js";

/** The options of the stores `lowdb` makes, besides their folder. */
export type TempStoreOptions = Omit<LowdbStoreOptions, "dir" | "compactEvery">;

/** Registers the cleanup and returns the two makers; `defaults` are the options of every store `lowdb` makes (none: `LowdbStore`'s defaults). */
export function tempStores(
  prefix: string,
  defaults: TempStoreOptions = {},
): { tempDir: () => string; lowdb: (dir: string, options?: TempStoreOptions) => LowdbStore } {
  const dirs: string[] = [];
  const stores: LowdbStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return {
    /** A fresh folder for a LowdbStore. */
    tempDir() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    /** A LowdbStore on `dir` with `defaults`, or with `options` when given; a new instance per call, as a new process would make. */
    lowdb(dir, options = defaults) {
      const store = new LowdbStore({ ...options, dir });
      stores.push(store);
      return store;
    },
  };
}
