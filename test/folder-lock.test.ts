/**
 * The folder lock between processes (src/persistence/folder-lock.ts): a
 * stale lock is broken once, never a fresh lock someone took after it, and
 * nothing but a folder is accepted in a lock's place.
 */
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LOCK_STALE_MS, takeFolderLock } from "../src/persistence/folder-lock.js";
import { UnsafeStoreFileError } from "../src/index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function staleLock(path: string): Promise<void> {
  await mkdir(path);
  const past = new Date(Date.now() - LOCK_STALE_MS - 60_000);
  await utimes(path, past, past);
}

describe("takeFolderLock", () => {
  it("lets exactly one of many waiters in at a time when they all find the same stale lock", async () => {
    const lock = join(dir, "x.lock");
    // Repeated, because the old code's double break needs an interleaving that one round may not give.
    for (let round = 0; round < 20; round++) {
      await staleLock(lock);
      let inside = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 30 }, async () => {
          const unlock = await takeFolderLock(lock, { what: "the test lock" });
          inside += 1;
          most = Math.max(most, inside);
          await sleep(2);
          inside -= 1;
          await unlock?.();
        }),
      );
      expect(most).toBe(1);
    }
  });

  it("refuses a symbolic link or a file in the lock's place, and leaves it", async () => {
    const target = join(dir, "target");
    await mkdir(target);
    const linked = join(dir, "linked.lock");
    await symlink(target, linked);
    const past = new Date(Date.now() - LOCK_STALE_MS - 60_000);
    await utimes(target, past, past);
    await expect(takeFolderLock(linked, { what: "the test lock" })).rejects.toBeInstanceOf(UnsafeStoreFileError);
    const file = join(dir, "file.lock");
    await writeFile(file, "x");
    await utimes(file, past, past);
    await expect(takeFolderLock(file, { what: "the test lock" })).rejects.toBeInstanceOf(UnsafeStoreFileError);
  });
});
