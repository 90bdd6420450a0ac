/**
 * `takeFileLock` with `linkFrom` and `refreshFrom` (src/persistence/folder-lock.ts):
 * a file older than a second is touched and the lock taken as a link of it
 * all the same (no lock file made and freed), but only when no lock is
 * there, so a lock left by a dead holder as a link of that file still goes
 * stale. `LowdbStore` takes its lease lock that way: renewing and giving
 * back an old lease make no lock file (a run kept as a folder, `layout:
 * "folders"`, whose `lease.json` is aged here).
 */
import { existsSync, link, lstatSync, utimesSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LINK_LOCK_FRESH_MS, LOCK_STALE_MS, takeFileLock } from "../src/persistence/folder-lock.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import type { LeaseRequest } from "../src/persistence/run-store.js";
import { sampleRun } from "./store-conformance.js";

/** The lock files made with O_CREAT (the empty-file lock), by path. */
const made = vi.hoisted(() => ({ locks: [] as string[] }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const openSync = ((path: string, flags: number, mode?: number) => {
    if (String(path).endsWith(".lock") && (flags & fs.constants.O_CREAT) !== 0) made.locks.push(String(path));
    return fs.openSync(path, flags, mode);
  }) as typeof fs.openSync;
  return { ...fs, default: { ...fs, openSync }, openSync };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-lock-refresh-"));
  made.locks = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const secondsAgo = (s: number) => new Date(Date.now() - s * 1000);

describe("takeFileLock with refreshFrom", () => {
  it("touches a file modified a second or more ago and takes the lock as a link of it; the content stays", async () => {
    const file = join(dir, "lease.json");
    await writeFile(file, "old");
    utimesSync(file, secondsAgo(60), secondsAgo(60));
    const lock = join(dir, "x.lock");
    const unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: file, refreshFrom: true });
    expect(unlock?.linked).toBe(true);
    expect(lstatSync(lock).ino).toBe(lstatSync(file).ino);
    expect(Date.now() - lstatSync(file).mtimeMs).toBeLessThan(LINK_LOCK_FRESH_MS);
    await unlock?.();
    expect(existsSync(lock)).toBe(false);
    expect(lstatSync(file).nlink).toBe(1);
    expect(await readFile(file, "utf8")).toBe("old");
    expect(made.locks).toEqual([]);
  });

  it("never makes a stale lock (a link of that file, left by a dead holder) look young: it is broken at once", async () => {
    const file = join(dir, "lease.json");
    await writeFile(file, "the lease");
    const lock = join(dir, "x.lock");
    await promisify(link)(file, lock);
    utimesSync(file, secondsAgo(LOCK_STALE_MS / 1000 + 5), secondsAgo(LOCK_STALE_MS / 1000 + 5));
    const started = Date.now();
    const unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: file, refreshFrom: true });
    expect(Date.now() - started).toBeLessThan(LOCK_STALE_MS / 2);
    expect(unlock?.linked).toBe(true);
    await unlock?.();
    expect(existsSync(lock)).toBe(false);
    expect(await readFile(file, "utf8")).toBe("the lease");
  });
});

describe("LowdbStore's lease lock on an old lease", () => {
  const request = (owner: string): LeaseRequest => ({ owner, pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() });
  const ageLease = (runId: string) => utimesSync(join(dir, "runs", runId, "lease.json"), secondsAgo(30), secondsAgo(30));

  it("makes no lock file to renew, cancel, give back and take again", async () => {
    const store = new LowdbStore({ dir, layout: "folders" });
    const lease = await store.acquireLease("r1", request("o1"));
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
    ageLease("r1");
    const renewed = await store.renewLease(lease, 60_000, Date.now());
    ageLease("r1");
    expect(await store.requestCancel("r1", { token: renewed.token, reason: "r", at: 1 })).toBe(true);
    ageLease("r1");
    // The holder still writes: touching the file only made it read the lease again.
    await store.writeSnapshot(sampleRun("r1"), 0, renewed);
    ageLease("r1");
    await store.releaseLease(renewed);
    expect(await store.readLease("r1")).toBeUndefined();
    ageLease("r1");
    const other = new LowdbStore({ dir, layout: "folders" });
    expect(await other.acquireLease("r1", request("o2"))).toMatchObject({ owner: "o2", token: renewed.token + 1 });
    expect(made.locks).toEqual([]);
    expect(existsSync(join(dir, "runs", "r1", "lease.lock"))).toBe(false);
    await store.close();
    await other.close();
  });
});

describe("takeFileLock with linkFromModifiedSince", () => {
  it("links a file the caller saw modified less than a second ago without looking at it (an old mtime there is not touched)", async () => {
    const file = join(dir, "lease.json");
    await writeFile(file, "seen");
    // The file's own mtime is old: only the caller's word says it is recent, so a look would touch it.
    utimesSync(file, secondsAgo(60), secondsAgo(60));
    const before = lstatSync(file).mtimeMs;
    const lock = join(dir, "x.lock");
    const unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: file, refreshFrom: true, linkFromModifiedSince: Date.now() - 10 });
    expect(unlock?.linked).toBe(true);
    expect(lstatSync(lock).ino).toBe(lstatSync(file).ino);
    expect(lstatSync(file).mtimeMs).toBe(before);
    await unlock?.();
    expect(made.locks).toEqual([]);
  });

  it("looks, and touches, when what the caller saw is a second or more old, or in the future", async () => {
    for (const since of [Date.now() - 2 * LINK_LOCK_FRESH_MS, Date.now() + 2 * LINK_LOCK_FRESH_MS]) {
      const file = join(dir, "lease.json");
      await writeFile(file, "seen");
      utimesSync(file, secondsAgo(60), secondsAgo(60));
      const lock = join(dir, "x.lock");
      const unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: file, refreshFrom: true, linkFromModifiedSince: since });
      expect(unlock?.linked).toBe(true);
      expect(Date.now() - lstatSync(file).mtimeMs).toBeLessThan(LINK_LOCK_FRESH_MS);
      await unlock?.();
    }
  });

  it("makes an empty file lock when the file is gone", async () => {
    const lock = join(dir, "x.lock");
    const unlock = await takeFileLock(lock, { what: "the test lock", linkFrom: join(dir, "gone.json"), refreshFrom: true, linkFromModifiedSince: Date.now() });
    expect(unlock?.linked).toBe(false);
    expect(made.locks).toEqual([lock]);
    await unlock?.();
  });
});
