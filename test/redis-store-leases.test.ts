/**
 * RedisStore's leases beyond the conformance suite: tokens that never go
 * back, even after a delete (its token counter outlives the run), the
 * lease as the contract has it (the store's clock offset kept apart), and
 * leases an earlier version wrote (JSON without `redisOffsetMs`, with a
 * Redis-side PX expiry), which this version reads, renews, fences and
 * takes over.
 */
import { hostname } from "node:os";
import { Redis } from "ioredis";
import { afterEach, expect, it } from "vitest";
import { RedisStore } from "../src/adapters/bullmq/redis-store.js";
import { RunLockedError } from "../src/index.js";
import type { Lease, LeaseRequest } from "../src/persistence/run-store.js";
import { readLiveness } from "../src/runner/run-liveness.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { describeRedis, dropPrefix, REDIS_URL, uniquePrefix } from "./support/redis.js";

describeRedis("RedisStore: lease tokens and leases of earlier versions", () => {
  let prefix = "";
  let store: RedisStore;
  let client: Redis | undefined;
  afterEach(async () => {
    await store.close();
    client?.disconnect();
    client = undefined;
    await dropPrefix(prefix);
  });

  const open = (label: string): RedisStore => {
    prefix = uniquePrefix(label);
    store = new RedisStore({ connection: REDIS_URL, prefix });
    return store;
  };
  const request = (owner: string, now: number, fields: Partial<LeaseRequest> = {}): LeaseRequest => ({
    owner,
    pid: process.pid,
    host: hostname(),
    ttlMs: 10_000,
    now,
    ...fields,
  });

  it("keeps tokens growing after a delete, so a cancel request for the deleted run's holder never reaches the new one", async () => {
    const store = open("token-delete");
    const old = await store.acquireLease("r1", request("o1", 1_000, { ttlMs: 100 }));
    await store.writeSnapshot(sampleRun("r1"), 0, old);
    expect(await store.delete("r1")).toBe(true);
    const fresh = await store.acquireLease("r1", request("o1", 2_000));
    expect(fresh.token).toBe(old.token + 1);
    expect(await store.requestCancel("r1", { token: old.token, owner: "o1", reason: "old run", at: 3 })).toBe(false);
  });

  it("returns leases as the contract has them, without the store's clock offset", async () => {
    const store = open("lease-shape");
    const lease = await store.acquireLease("r1", request("o1", 1_000));
    expect(Object.keys(lease).sort()).toEqual(["expiresAt", "host", "owner", "pid", "runId", "token"]);
    expect(await store.readLease("r1")).toEqual(lease);
    const renewed = await store.renewLease(lease, 10_000, 2_000);
    expect(renewed).toEqual({ ...lease, expiresAt: 12_000 });
    const err = await store.acquireLease("r1", request("o2", 3_000)).catch((e: unknown) => e);
    expect((err as RunLockedError).holder).toEqual(renewed);
    // Stored with it, and with no Redis-side expiry: the lease stays until it is given back, taken over or deleted.
    client = new Redis(REDIS_URL);
    const raw = JSON.parse((await client.get(`${prefix}:lease:r1`))!) as { redisOffsetMs?: unknown };
    expect(typeof raw.redisOffsetMs).toBe("number");
    expect(await client.pttl(`${prefix}:lease:r1`)).toBe(-1);
  });

  it("reads a lease expired by Redis's clock alone with Redis's deadline, so its run is stalled, not live", async () => {
    const store = open("lease-redis-expired");
    // The holder's clock runs an hour ahead: by its own clock the lease has an hour and 20 ms left, by Redis's 20 ms.
    const ahead = 3_600_000;
    const granted = Date.now();
    const lease = await store.acquireLease("r1", request("o1", granted + ahead, { ttlMs: 20 }));
    expect(lease.expiresAt).toBe(granted + ahead + 20);
    while (Date.now() < granted + 60) await new Promise((r) => setTimeout(r, 10));
    const read = await store.readLease("r1");
    expect(read).toMatchObject({ owner: "o1", token: lease.token });
    expect(read!.expiresAt).toBeLessThanOrEqual(Date.now());
    expect((await readLiveness(store, "r1", "running", Date.now()))?.liveness).toBe("stalled");
    // A taker at its own (true) clock takes it, as the reading said it could.
    expect(await store.acquireLease("r1", request("o2", Date.now()))).toMatchObject({ owner: "o2", token: lease.token + 1 });
  });

  it("reads a lease live by Redis's clock with its holder's expiresAt", async () => {
    const store = open("lease-redis-live");
    const lease = await store.acquireLease("r1", request("o1", Date.now() + 3_600_000, { ttlMs: 60_000 }));
    expect(await store.readLease("r1")).toEqual(lease);
    expect((await readLiveness(store, "r1", "running", Date.now()))?.liveness).toBe("live");
  });

  /** Writes run r1 with a lease as an earlier version stored it: JSON without `redisOffsetMs`, with a PX expiry. */
  async function earlierLease(lease: Lease, pxMs: number): Promise<void> {
    client = new Redis(REDIS_URL);
    await client.set(`${prefix}:token:r1`, String(lease.token));
    await client.set(`${prefix}:lease:r1`, JSON.stringify(lease), "PX", pxMs);
  }

  it("reads, fences, reaches and renews a lease an earlier version wrote", async () => {
    const store = open("earlier-lease");
    const now = Date.now();
    const lease: Lease = { runId: "r1", owner: "old", pid: process.pid, host: hostname(), expiresAt: now + 60_000, token: 3 };
    await earlierLease(lease, 60_000);
    await store.writeSnapshot(sampleRun("r1"), 0, lease);
    await store.append("r1", [nodeRecord(1, "b")], lease);
    await expect(store.append("r1", [nodeRecord(2, "c")], { ...lease, token: 2 })).rejects.toMatchObject({ code: "LEASE_LOST", currentToken: 3 });
    expect(await store.readLease("r1")).toEqual(lease);
    await expect(store.acquireLease("r1", request("new", now + 1))).rejects.toBeInstanceOf(RunLockedError);
    expect(await store.requestCancel("r1", { token: 3, owner: "old", reason: "stop", at: 5 })).toBe(true);
    const renewed = await store.renewLease(lease, 10_000, now + 2);
    expect(renewed).toEqual({ ...lease, expiresAt: now + 10_002, cancelRequested: { token: 3, reason: "stop", at: 5 } });
    expect((await store.load("r1"))?.seq).toBe(1);
  });

  it("takes over a lease an earlier version wrote once it expired, with the next token", async () => {
    const store = open("earlier-expired");
    const lease: Lease = { runId: "r1", owner: "old", pid: process.pid, host: hostname(), expiresAt: 5_000, token: 7 };
    await earlierLease(lease, 60_000);
    await expect(store.acquireLease("r1", request("new", 4_999))).rejects.toBeInstanceOf(RunLockedError);
    const taken = await store.acquireLease("r1", request("new", 5_000));
    expect(taken).toMatchObject({ owner: "new", token: 8 });
    await expect(store.writeSnapshot(sampleRun("r1"), 0, lease)).rejects.toMatchObject({ code: "LEASE_LOST", currentToken: 8 });
  });
});
