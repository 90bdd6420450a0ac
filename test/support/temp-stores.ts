/**
 * Temporary folders and `LowdbStore`s for a test file, all cleaned up after
 * the file's tests: `const { tempDir, lowdb } = tempStores("taskloom-x-")`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { LowdbStore } from "../../src/index.js";

/** Registers the cleanup and returns the two makers. */
export function tempStores(prefix: string): { tempDir: () => string; lowdb: (dir: string) => LowdbStore } {
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
    /** A LowdbStore on `dir`; a new instance per call, as a new process would make. */
    lowdb(dir) {
      const store = new LowdbStore({ dir });
      stores.push(store);
      return store;
    },
  };
}
