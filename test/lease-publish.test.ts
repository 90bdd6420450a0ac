/**
 * A free lease taken without the lease lock (src/persistence/lowdb-leases.ts,
 * "Taking a free lease"): a temp file hard-linked to `lease.json`, then the
 * lock looked at. Real processes race for the leases of new runs (also
 * against one that takes them as the previous version did, under the lock
 * with a rename), a lease published while someone holds the lock is judged
 * again under it, processes taking, renewing and giving back the same
 * runs' leases never hold one at once, and a process SIGKILLed anywhere in its lease calls
 * leaves runs whose leases the next process takes. The leases are those of
 * runs kept as folders (`runs/<runId>/`): stores are made with
 * `layout: "folders"` where a test looks at or plants their files, and
 * wherever the previous version takes part (it keeps every run so).
 */
import { existsSync, linkSync, readFileSync, readdirSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RunLockedError } from "../src/index.js";
import { processIdentity } from "../src/persistence/lease-rules.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import type { Lease } from "../src/persistence/run-store.js";
import { serialize } from "../src/persistence/serialization.js";
import { sampleRun } from "./store-conformance.js";
import { leaseRequest } from "./support/lease-request.js";
import { startLineChild, type LineChild } from "./support/child-process.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-lease-publish-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const request = leaseRequest;
const runDir = (runId: string) => join(dir, "runs", runId);
/** A store that keeps every run as a folder, whose `lease.json` and `lease.lock` the tests look at. */
const folders = () => new LowdbStore({ dir, layout: "folders" });

describe("a free lease taken while the lease lock is held", () => {
  it("is judged again under the lock: a lease written meanwhile by the lock's holder wins (RunLockedError)", async () => {
    const store = folders();
    await store.acquireLease("r1", request("first"));
    await store.releaseLease({ ...(await store.readLease("r1"))! });
    // A process holds the lock, having found no lease (as the previous version decides under it).
    const lock = join(runDir("r1"), "lease.lock");
    await writeFile(lock, "");
    const pending = store.acquireLease("r1", request("mine"));
    const settled = pending.then(
      () => "resolved",
      () => "rejected",
    );
    await sleep(50);
    expect(await Promise.race([settled, sleep(0).then(() => "waiting")])).toBe("waiting");
    // The holder writes its own lease over whatever it finds (a rename), then gives the lock back.
    const theirs: Lease = {
      runId: "r1",
      owner: "theirs",
      pid: process.pid,
      host: hostname(),
      expiresAt: Date.now() + 60_000,
      token: 1,
      identity: processIdentity(),
    };
    writeFileSync(join(runDir("r1"), "lease.json.new"), serialize(theirs));
    renameSync(join(runDir("r1"), "lease.json.new"), join(runDir("r1"), "lease.json"));
    await unlink(lock);
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunLockedError);
    expect((err as RunLockedError).holder).toMatchObject({ owner: "theirs" });
    expect(await store.readLease("r1")).toMatchObject({ owner: "theirs" });
    await store.close();
  });

  it("is granted once the lock is given back when the lease is still the one published, and fences as usual", async () => {
    const store = folders();
    await store.acquireLease("r1", request("first"));
    await store.releaseLease((await store.readLease("r1"))!);
    const lock = join(runDir("r1"), "lease.lock");
    await writeFile(lock, "");
    const pending = store.acquireLease("r1", request("mine"));
    await sleep(50);
    await unlink(lock);
    const lease = await pending;
    // Above the lease given back.
    expect(lease).toMatchObject({ owner: "mine", token: 2 });
    expect(await store.readLease("r1")).toEqual(lease);
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
    await expect(store.acquireLease("r1", request("other"))).rejects.toBeInstanceOf(RunLockedError);
    // Only the lock's holder wrote: a takeover by another store fences this one off.
    const other = folders();
    await other.acquireLease("r1", request("other", { takeover: true }));
    await expect(store.writeSnapshot(sampleRun("r1"), 0, lease)).rejects.toMatchObject({ code: "LEASE_LOST" });
    await other.close();
    await store.close();
  });

  it("leaves nothing but lease.json behind, and only lease.json (given back) once given back", async () => {
    const store = folders();
    const lease = await store.acquireLease("r1", request("o1"));
    expect(readdirSync(runDir("r1"))).toEqual(["lease.json"]);
    await store.releaseLease(lease);
    // Given back in place (no inode freed): the file stays, marked released, and reads as no lease.
    expect(readdirSync(runDir("r1"))).toEqual(["lease.json"]);
    expect(await store.readLease("r1")).toBeUndefined();
    await store.close();
  });

  it("takes over a lease left hard-linked to its temp file by a holder that died between the link and the unlink", async () => {
    const store = folders();
    const dead: Lease = {
      runId: "r1",
      owner: "dead",
      pid: 2 ** 22 - 3,
      host: hostname(),
      expiresAt: Date.now() + 60_000,
      token: 4,
      identity: processIdentity(),
    };
    await store.acquireLease("r1", request("setup"));
    await store.releaseLease((await store.readLease("r1"))!);
    // Setup: a run without lease.json (given back by an earlier version, which removed it).
    unlinkSync(join(runDir("r1"), "lease.json"));
    const temp = join(runDir("r1"), "lease.json.999.abcdef01.tmp");
    writeFileSync(temp, serialize(dead), { mode: 0o600 });
    linkSync(temp, join(runDir("r1"), "lease.json"));
    const lease = await store.acquireLease("r1", request("next"));
    expect(lease).toMatchObject({ owner: "next", token: 5 });
    expect(await store.readLease("r1")).toEqual(lease);
    await store.close();
  });
});

const startChild = (args: string[]): LineChild => startLineChild(args);

type Outcome = { token: number } | { holder: string };

/**
 * Races `owners` (with how each takes leases) for the leases of `count` new runs; the outcomes, by owner. With
 * `layout: "folders"`, the "current" racers' stores keep every run as a folder.
 */
async function race(count: number, owners: [string, "current" | "previous"][], layout?: "folders"): Promise<Map<string, Outcome[]>> {
  const racers = owners.map(([owner, how]) => startChild(["test/fixtures/lease-race-many.ts", dir, String(count), owner, how, ...(layout ? [layout] : [])]));
  try {
    await Promise.all(racers.map((r) => r.nextLine()));
    for (const r of racers) r.child.stdin.write("go\n");
    const results = await Promise.all(racers.map(async (r) => JSON.parse(await r.nextLine()) as Outcome[]));
    return new Map(owners.map(([owner], i) => [owner, results[i]!]));
  } finally {
    for (const r of racers) r.child.stdin.end();
    await Promise.all(racers.map((r) => r.exited));
  }
}

/** Every run was won by exactly one racer, with token 1, and every other racer was told that one holds it. */
function expectOneWinnerEach(outcomes: Map<string, Outcome[]>, count: number): void {
  for (let i = 0; i < count; i++) {
    const per = [...outcomes].map(([owner, list]) => ({ owner, outcome: list[i]! }));
    const winners = per.filter((p) => "token" in p.outcome);
    expect(winners, `run r${i}: ${JSON.stringify(per)}`).toHaveLength(1);
    expect(winners[0]!.outcome).toEqual({ token: 1 });
    for (const p of per) if (p !== winners[0]) expect(p.outcome, `run r${i}`).toEqual({ holder: winners[0]!.owner });
  }
}

describe("processes racing for the leases of new runs", () => {
  it("give each lease to exactly one of them", { timeout: 60_000 }, async () => {
    const count = 40;
    const outcomes = await race(count, [
      ["a", "current"],
      ["b", "current"],
      ["c", "current"],
    ]);
    expectOneWinnerEach(outcomes, count);
  });

  it("give each lease to exactly one of them when one takes leases as the previous version did (under the lock, by rename)", { timeout: 60_000 }, async () => {
    const count = 40;
    const outcomes = await race(
      count,
      [
        ["a", "current"],
        ["old", "previous"],
        ["b", "current"],
      ],
      "folders",
    );
    expectOneWinnerEach(outcomes, count);
  });
});

describe("processes taking, renewing and giving back the leases of the same runs", () => {
  it("never hold one run's lease at the same time", { timeout: 90_000 }, async () => {
    const log = join(dir, "holders.log");
    writeFileSync(log, "");
    const children = ["x", "y", "z"].map((label) => startChild(["test/fixtures/lease-mutex.ts", dir, "3", "300", log, label]));
    for (const c of children) expect(await c.nextLine()).toBe("done");
    const holder = new Map<string, string>();
    let taken = 0;
    for (const line of readFileSync(log, "utf8").split("\n").filter(Boolean)) {
      const [what, runId, owner] = line.split(" ") as [string, string, string];
      if (what === "acq") {
        expect(holder.get(runId), `${line}: the lease is still held`).toBeUndefined();
        holder.set(runId, owner);
        taken += 1;
      } else {
        expect(holder.get(runId), line).toBe(owner);
        holder.delete(runId);
      }
    }
    expect(holder.size).toBe(0);
    // Each run's lease was taken many times, by several of them.
    expect(taken).toBeGreaterThan(30);
  });
});

describe("a process SIGKILLed in its lease calls", () => {
  it("leaves every run in a state whose lease the next process takes at once or once a stale lock is broken", { timeout: 90_000 }, async () => {
    const runs = 4;
    for (const delay of [15, 60, 140]) {
      const child = startChild(["test/fixtures/lease-churn.ts", dir, String(runs)]);
      expect(await child.nextLine()).toBe("going");
      await sleep(delay + Math.random() * 20);
      child.child.kill("SIGKILL");
      await child.exited;
      const store = new LowdbStore({ dir, layout: "folders" });
      for (let i = 0; i < runs; i++) {
        const runId = `c${i}`;
        if (!existsSync(runDir(runId))) continue;
        const lease = await store.acquireLease(runId, request(`after-${delay}`));
        expect(lease.owner).toBe(`after-${delay}`);
        expect(await store.readLease(runId)).toEqual(lease);
        await store.releaseLease(lease);
        expect(await store.readLease(runId)).toBeUndefined();
      }
      expect(await store.list()).toEqual([]);
      await store.close();
    }
  });
});
