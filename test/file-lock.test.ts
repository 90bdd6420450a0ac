/**
 * The lease lock as a file (src/persistence/folder-lock.ts, `takeFileLock`):
 * one holder at a time, a stale lock broken once (whether a file or the
 * folder an earlier version made), a folder held by an earlier version
 * waited for, a symbolic link never followed or removed, and nothing left
 * behind once given back; taken as a second name of a fresh file
 * (`linkFrom`, the run's `lease.json`), and only of a fresh one.
 */
import { existsSync, lstatSync } from "node:fs";
import { link, mkdir, mkdtemp, readFile, readdir, rename, rm, rmdir, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LINK_LOCK_FRESH_MS, LOCK_STALE_MS, takeFileLock } from "../src/persistence/folder-lock.js";
import { LowdbStore, UnsafeStoreFileError } from "../src/index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-file-lock-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const past = () => new Date(Date.now() - LOCK_STALE_MS - 60_000);

describe("takeFileLock", () => {
  it("is an empty file while held and is gone once given back", async () => {
    const lock = join(dir, "x.lock");
    const unlock = await takeFileLock(lock, { what: "the test lock" });
    expect(lstatSync(lock).isFile()).toBe(true);
    await unlock?.();
    expect(existsSync(lock)).toBe(false);
  });

  it("lets exactly one of many waiters in at a time when they all find the same stale lock file", async () => {
    const lock = join(dir, "x.lock");
    for (let round = 0; round < 10; round++) {
      await writeFile(lock, "");
      await utimes(lock, past(), past());
      let inside = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const unlock = await takeFileLock(lock, { what: "the test lock" });
          inside += 1;
          most = Math.max(most, inside);
          await sleep(1);
          inside -= 1;
          await unlock?.();
        }),
      );
      expect(most).toBe(1);
      expect(existsSync(lock)).toBe(false);
    }
  });

  it("waits for a lock folder an earlier version holds, and takes the lock once it is gone", async () => {
    const lock = join(dir, "x.lock");
    await mkdir(lock);
    let taken = false;
    const waiting = takeFileLock(lock, { what: "the test lock" }).then((unlock) => {
      taken = true;
      return unlock;
    });
    await sleep(100);
    expect(taken).toBe(false);
    await rmdir(lock);
    const unlock = await waiting;
    expect(lstatSync(lock).isFile()).toBe(true);
    await unlock?.();
  });

  it("breaks a stale lock folder left by an earlier version", async () => {
    const lock = join(dir, "x.lock");
    await mkdir(lock);
    await utimes(lock, past(), past());
    const unlock = await takeFileLock(lock, { what: "the test lock" });
    expect(lstatSync(lock).isFile()).toBe(true);
    await unlock?.();
  });

  it("refuses a symbolic link in the lock's place and leaves it and its target alone", async () => {
    const target = join(dir, "target");
    await writeFile(target, "keep");
    await utimes(target, past(), past());
    const linked = join(dir, "linked.lock");
    await symlink(target, linked);
    await expect(takeFileLock(linked, { what: "the test lock" })).rejects.toBeInstanceOf(UnsafeStoreFileError);
    expect(lstatSync(linked).isSymbolicLink()).toBe(true);
    expect(existsSync(target)).toBe(true);
  });

  it("resolves to undefined when the folder that holds the lock is missing and there is no createParent", async () => {
    expect(await takeFileLock(join(dir, "missing", "x.lock"), { what: "the test lock" })).toBeUndefined();
  });
});

describe("takeFileLock with linkFrom", () => {
  it("takes the lock as a second name of a file modified just now, and leaves the file as it was once given back", async () => {
    const file = join(dir, "lease.json");
    await writeFile(file, "the lease");
    const lock = join(dir, "x.lock");
    const unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: file });
    expect(lstatSync(lock).ino).toBe(lstatSync(file).ino);
    expect(lstatSync(file).nlink).toBe(2);
    await unlock?.();
    expect(existsSync(lock)).toBe(false);
    expect(lstatSync(file).nlink).toBe(1);
    expect(await readFile(file, "utf8")).toBe("the lease");
  });

  it("makes an empty file instead when the file was modified a second or more ago (its age would be the lock's), or is missing", async () => {
    const file = join(dir, "lease.json");
    await writeFile(file, "old");
    await utimes(file, new Date(Date.now() - LINK_LOCK_FRESH_MS - 10), new Date(Date.now() - LINK_LOCK_FRESH_MS - 10));
    const lock = join(dir, "x.lock");
    let unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: file });
    expect(lstatSync(lock).ino).not.toBe(lstatSync(file).ino);
    expect(lstatSync(lock).size).toBe(0);
    await unlock?.();
    unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: join(dir, "missing.json") });
    expect(lstatSync(lock).size).toBe(0);
    await unlock?.();
    expect(existsSync(lock)).toBe(false);
  });

  it("lets exactly one of many waiters in at a time, whichever way each takes the lock", async () => {
    const file = join(dir, "lease.json");
    const lock = join(dir, "x.lock");
    for (let round = 0; round < 5; round++) {
      let inside = 0;
      let most = 0;
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          // The file is rewritten as a lease is: a new file renamed over it, so those waiters link. Every third waiter
          // names a file not written for a minute instead, so it makes a file. (Renaming an old file over the lease
          // would break linkLock's premise that a replaced file is newer, the race this test once lost under load.)
          await writeFile(`${file}.${i}`, `v${i}`);
          let from = file;
          if (i % 3 === 0) {
            from = `${file}.old.${i}`;
            await rename(`${file}.${i}`, from);
            await utimes(from, past(), past());
          } else await rename(`${file}.${i}`, file);
          const unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: from });
          inside += 1;
          most = Math.max(most, inside);
          await sleep(1);
          inside -= 1;
          await unlock?.();
        }),
      );
      expect(most).toBe(1);
      expect(existsSync(lock)).toBe(false);
    }
  });

  it("is waited for while fresh, and broken once stale (its holder died), leaving the file it named alone", async () => {
    const file = join(dir, "lease.json");
    await writeFile(file, "the lease");
    const lock = join(dir, "x.lock");
    await link(file, lock);
    let taken = false;
    const waiting = takeFileLock(lock, { what: "the test lock", linkFrom: file }).then((unlock) => {
      taken = true;
      return unlock;
    });
    await sleep(100);
    expect(taken).toBe(false);
    // The holder died, and the file has not been modified since: the lock is as old as the file.
    await utimes(file, past(), past());
    const unlock = await waiting;
    expect(existsSync(lock)).toBe(true);
    await unlock?.();
    expect(existsSync(lock)).toBe(false);
    expect(await readFile(file, "utf8")).toBe("the lease");
    expect(lstatSync(file).nlink).toBe(1);
  });
});

describe("LowdbStore's lease lock", () => {
  it("leaves no lock behind after a lease is taken, renewed and given back", async () => {
    // The lease and lock of a run kept as a folder (`runs/r1/lease.json`, `lease.lock`).
    const store = new LowdbStore({ dir, layout: "folders" });
    const request = { owner: "o1", pid: process.pid, host: "h", ttlMs: 60_000, now: Date.now() };
    const lease = await store.acquireLease("r1", request);
    await store.renewLease(lease, 60_000, Date.now());
    await store.releaseLease(lease);
    // No lock left: only lease.json, given back in place.
    expect(await readdir(join(dir, "runs", "r1"))).toEqual(["lease.json"]);
    expect(await store.readLease("r1")).toBeUndefined();
    await store.close();
  });
});
