/**
 * `LowdbStore`'s leases on a file system without hard links (FAT, some FUSE
 * and network file systems), where `link` fails: a free lease is made
 * exclusively as everywhere (no link needed), the lock is an empty file
 * instead of a second name of `lease.json`, and every lease call works as
 * on ext4. These are the leases of a run kept as a folder (`layout:
 * "folders"`, `runs/<runId>/lease.json`); a run file's lock is a file made
 * with `O_EXCL`, never a link (`run-file-leases.ts`).
 */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RunLockedError } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import type { LeaseRequest } from "../src/persistence/run-store.js";
import { sampleRun } from "./store-conformance.js";

const links = vi.hoisted(() => ({ tried: 0 }));
vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  const linkSync: typeof fs.linkSync = () => {
    links.tried += 1;
    throw Object.assign(new Error("EPERM: operation not permitted, link"), { code: "EPERM" });
  };
  return { ...fs, default: { ...fs, linkSync }, linkSync };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-no-links-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const request = (owner: string): LeaseRequest => ({ owner, pid: process.pid, host: hostname(), ttlMs: 60_000, now: Date.now() });

describe("leases where link fails (EPERM)", () => {
  it("are taken, fenced, renewed, cancelled and given back, and leave no file behind", async () => {
    const store = new LowdbStore({ dir, layout: "folders" });
    const lease = await store.acquireLease("r1", request("o1"));
    // A new run's lease is made exclusively: no link is tried.
    expect(links.tried).toBe(0);
    expect(await store.readLease("r1")).toEqual(lease);
    await expect(store.acquireLease("r1", request("o2"))).rejects.toBeInstanceOf(RunLockedError);
    // The lock tried to be a second name of lease.json, and was an empty file instead.
    expect(links.tried).toBeGreaterThan(0);
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
    const renewed = await store.renewLease(lease, 120_000, Date.now());
    expect(await store.requestCancel("r1", { token: renewed.token, reason: "r", at: 1 })).toBe(true);
    expect((await store.renewLease(renewed, 60_000, Date.now())).cancelRequested).toMatchObject({ reason: "r" });
    await store.releaseLease(renewed);
    expect(await store.readLease("r1")).toBeUndefined();
    // No lock and no temp file left: only lease.json, given back in place (it reads as no lease, above).
    expect((await readdir(join(dir, "runs", "r1"))).filter((f) => f.startsWith("lease"))).toEqual(["lease.json"]);
    const again = await store.acquireLease("r1", request("o3"));
    expect(again).toMatchObject({ owner: "o3", token: renewed.token + 1 });
    await store.close();
  });
});
