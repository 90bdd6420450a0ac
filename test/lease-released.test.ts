/**
 * A lease given back in place (src/persistence/lowdb-leases.ts, "Giving a
 * lease back"): `lease.json` stays, same inode (no inode freed), marked
 * released and expired; it reads as no lease, the next acquire takes it
 * (through the lock), the old holder's writes are refused, a store that
 * remembered the live lease sees the change at once, an earlier version
 * sees an expired lease, and processes racing for released leases get one
 * winner each. These are leases of runs kept as folders (`runs/<runId>/`:
 * the stores are made with `layout: "folders"`); a run file's leases are
 * lines of the run file (test/run-file-leases.test.ts).
 */
import { closeSync, existsSync, fstatSync, linkSync, lstatSync, openSync, readFileSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RunLockedError } from "../src/index.js";
import { canTakeOver } from "../src/persistence/lease-rules.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import type { Lease } from "../src/persistence/run-store.js";
import { checkLease } from "../src/persistence/snapshot-schema.js";
import { deserialize } from "../src/persistence/serialization.js";
import { sampleRun } from "./store-conformance.js";
import { leaseRequest } from "./support/lease-request.js";
import { startLineChild } from "./support/child-process.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-lease-released-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const request = leaseRequest;
/** A store that keeps every run as a folder, whose `lease.json` these tests are about. */
const folders = (options: { fsync?: boolean } = {}) => new LowdbStore({ dir, ...options, layout: "folders" });
const runDir = (runId: string) => join(dir, "runs", runId);
const leaseFile = (runId: string) => join(runDir(runId), "lease.json");
const stored = (runId: string) => deserialize<Lease & { released?: boolean }>(readFileSync(leaseFile(runId), "utf8"));

describe("a lease given back", () => {
  it("stays as lease.json, the same inode, marked released and expired, and reads as no lease", async () => {
    const store = folders();
    const lease = await store.acquireLease("r1", request("o1"));
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
    const before = lstatSync(leaseFile("r1"));
    await store.releaseLease(lease);
    const after = lstatSync(leaseFile("r1"));
    expect(after.ino).toBe(before.ino);
    expect(after.nlink).toBe(1);
    // Longer than before: a fencing copy of the live version (same inode) sees the change.
    expect(after.size).toBeGreaterThan(before.size);
    expect(stored("r1")).toEqual({ ...lease, expiresAt: 0, released: true });
    expect(readdirSync(runDir("r1")).sort()).toEqual(["journal.ndjson", "lease.json", "snapshot.json", "summary.json"]);
    expect(await store.readLease("r1")).toBeUndefined();
    expect(await folders().readLease("r1")).toBeUndefined();
    await store.close();
  });

  it("is taken by the next acquire, of any owner and any store, with the token after it; the old holder is refused", async () => {
    const store = folders();
    const lease = await store.acquireLease("r1", request("o1"));
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
    await store.releaseLease(lease);
    await store.releaseLease(lease); // again: nothing to do
    await expect(store.writeSnapshot(sampleRun("r1"), 0, lease)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await expect(store.renewLease(lease, 60_000, Date.now())).rejects.toBeInstanceOf(RunLockedError);
    expect(await store.requestCancel("r1", { token: lease.token, reason: "r", at: 1 })).toBe(false);

    const other = folders();
    const next = await other.acquireLease("r1", request("o2"));
    // Above the token given back: a cancel request addressed to the old holder never reaches this one.
    expect(next).toMatchObject({ owner: "o2", token: 2 });
    expect(await store.requestCancel("r1", { token: lease.token, reason: "late", at: 1 })).toBe(false);
    expect(await store.readLease("r1")).toEqual(next);
    await expect(store.writeSnapshot(sampleRun("r1"), 0, lease)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await other.writeSnapshot(sampleRun("r1"), 0, next);
    expect(readdirSync(runDir("r1")).filter((f) => f.startsWith("lease"))).toEqual(["lease.json"]);

    // The same owner takes its own lease given back, in the same store, with a new token: the lease it gave back
    // writes nothing more.
    await other.releaseLease(next);
    const again = await other.acquireLease("r1", request("o2"));
    expect(again).toMatchObject({ owner: "o2", token: 3 });
    await expect(other.writeSnapshot(sampleRun("r1"), 0, next)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await other.writeSnapshot(sampleRun("r1"), 0, again);
    await store.close();
    await other.close();
  });

  it("is taken at once by a store that remembered the live lease, however soon after the release", async () => {
    const holder = folders();
    const waiter = folders();
    for (let i = 0; i < 50; i++) {
      const runId = `r${i}`;
      const lease = await holder.acquireLease(runId, request("holder"));
      // The waiter reads (and remembers) the live lease...
      await expect(waiter.acquireLease(runId, request("waiter"))).rejects.toBeInstanceOf(RunLockedError);
      // ...which changes in place within the same clock tick, most of the time.
      await holder.releaseLease(lease);
      expect(await waiter.acquireLease(runId, request("waiter"))).toMatchObject({ owner: "waiter", token: 2 });
    }
    await holder.close();
    await waiter.close();
  });

  it("is an expired lease to an earlier version, which takes it over", async () => {
    const store = folders();
    await store.releaseLease(await store.acquireLease("r1", request("o1")));
    const seen = stored("r1");
    expect(checkLease(seen)).toBeUndefined();
    expect(seen.expiresAt).toBe(0);
    expect(canTakeOver(seen, request("anyone", { identity: undefined, host: "elsewhere" }), hostname())).toBe(true);
    await store.close();
  });

  it("is replaced by rename, not written in place, by a store that flushes (a page written in place could tear in a power loss)", async () => {
    const store = folders({ fsync: true });
    await store.releaseLease(await store.acquireLease("r1", request("o1")));
    const held = await store.acquireLease("r1", request("o2"));
    // The held lease's file, kept open: after the release it has no name, and its bytes are the held lease's.
    const fd = openSync(leaseFile("r1"), "r");
    const text = readFileSync(leaseFile("r1"), "utf8");
    try {
      await store.releaseLease(held);
      expect(fstatSync(fd).nlink).toBe(0);
      expect(readFileSync(fd, "utf8")).toBe(text);
    } finally {
      closeSync(fd);
    }
    // lease.json is a new file, holding the lease given back and its token.
    expect(stored("r1")).toMatchObject({ owner: "o2", token: 2, released: true, expiresAt: 0 });
    expect(await store.readLease("r1")).toBeUndefined();
    expect(await store.acquireLease("r1", request("o3"))).toMatchObject({ owner: "o3", token: 3 });
    await store.close();
  });

  it("is replaced, not written in place, when lease.json has a second name planted (nothing lands in the other file)", async () => {
    const store = folders();
    const lease = await store.acquireLease("r1", request("o1"));
    const other = join(dir, "other");
    linkSync(leaseFile("r1"), other);
    const text = readFileSync(other, "utf8");
    await store.releaseLease(lease);
    expect(readFileSync(other, "utf8")).toBe(text);
    expect(statSync(leaseFile("r1")).ino).not.toBe(statSync(other).ino);
    expect(stored("r1")).toMatchObject({ owner: "o1", released: true });
    expect(await store.readLease("r1")).toBeUndefined();
    await store.close();
  });

  it("writes nothing into a newer lease when its holder was taken over: the file it made and kept open is no longer lease.json", async () => {
    const store = folders();
    const mine = await store.acquireLease("r1", request("o1"));
    const other = folders();
    const theirs = await other.acquireLease("r1", request("o2", { takeover: true }));
    const text = readFileSync(leaseFile("r1"), "utf8");
    await store.releaseLease(mine);
    expect(readFileSync(leaseFile("r1"), "utf8")).toBe(text);
    expect(await store.readLease("r1")).toEqual(theirs);
    await other.releaseLease(theirs);
    expect(await store.readLease("r1")).toBeUndefined();
    await other.close();
    await store.close();
  });

  it("lets a run be deleted and listed", async () => {
    const store = new LowdbStore({ dir, layout: "folders" });
    const lease = await store.acquireLease("r1", request("o1"));
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
    await store.releaseLease(lease);
    expect((await store.list()).map((r) => r.runId)).toEqual(["r1"]);
    expect(await store.delete("r1")).toBe(true);
    expect(existsSync(runDir("r1"))).toBe(false);
    // A run made again under the same id starts afresh.
    expect(await store.acquireLease("r1", request("o2"))).toMatchObject({ owner: "o2", token: 1 });
    await store.close();
  });
});

describe("processes racing for leases given back", () => {
  it("give each lease to exactly one of them, also against the previous version's acquire", { timeout: 60_000 }, async () => {
    const count = 30;
    const setup = folders();
    for (let i = 0; i < count; i++) await setup.releaseLease(await setup.acquireLease(`r${i}`, request("setup")));
    await setup.close();
    const owners: [string, string][] = [
      ["a", "current"],
      ["old", "previous"],
      ["b", "current"],
    ];
    const racers = owners.map(([owner, how]) => startLineChild(["test/fixtures/lease-race-many.ts", dir, String(count), owner, how, "folders"]));
    try {
      await Promise.all(racers.map((r) => r.nextLine()));
      for (const r of racers) r.child.stdin.write("go\n");
      const results = await Promise.all(racers.map(async (r) => JSON.parse(await r.nextLine()) as ({ token: number } | { holder: string })[]));
      for (let i = 0; i < count; i++) {
        const per = owners.map(([owner], k) => ({ owner, outcome: results[k]![i]! }));
        const winners = per.filter((p) => "token" in p.outcome);
        expect(winners, `run r${i}: ${JSON.stringify(per)}`).toHaveLength(1);
        // The previous version takes the released lease over as an expired one, this one as no lease: both above it.
        expect(winners[0]!.outcome).toEqual({ token: 2 });
        for (const p of per) if (p !== winners[0]) expect(p.outcome, `run r${i}`).toEqual({ holder: winners[0]!.owner });
      }
    } finally {
      for (const r of racers) r.child.stdin.end();
      await Promise.all(racers.map((r) => r.exited));
    }
  });
});
