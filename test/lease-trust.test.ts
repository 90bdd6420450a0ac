/**
 * The fencing check's trust (src/persistence/lease-trust.ts): a write
 * skips the `lstat` of `lease.json` (a run kept as a folder) or of the
 * claim file `<runId>.run.claim` (a run kept as a run file, the default:
 * `run-file-leases.ts`) when its store saw the file unchanged less than
 * `TRUST_MS` ago and the lease is far from expiry. These tests hold
 * `performance.now()` still, so the trust never runs out by itself, and
 * check what must still be refused:
 * a takeover is not used before its holder's trust ran out (the taker
 * waits), and a lease near or past its expiry is always looked at, so a
 * takeover that does not wait (an earlier version's) is seen at once.
 * The tests that need no planted file run on both layouts (`"files"` and
 * `"folders"`, each checked to keep the run as it says). The ones that
 * plant a file do so in one layout: the lease lock `lease.lock` or a
 * replaced `lease.json` in a run folder, and, for their run-file
 * analogs, the run's lock `<runId>.run.lock` or a claim written over the
 * run file's lease without the taker's wait.
 */
import { existsSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LeaseLostError } from "../src/index.js";
import { TRUST_MARGIN_MS, TRUST_MS } from "../src/persistence/lease-trust.js";
import { LowdbStore, type LowdbStoreOptions } from "../src/persistence/lowdb-store.js";
import type { Lease } from "../src/persistence/run-store.js";
import { serialize } from "../src/persistence/serialization.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { leaseRequest } from "./support/lease-request.js";

let dir: string;
/** What `performance.now()` says while a test holds it still. */
let now = 0;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-lease-trust-"));
  // A whole number of milliseconds: the tests move it on by TRUST_MS and the store checks `now - since < TRUST_MS`.
  // From a fraction, the sum can lose its last bit where it crosses a power of two (1006.250122 + 50 - 1006.250122
  // is 49.999999999999886), and with the clock held, the taker's wait never ends.
  now = Math.floor(performance.now());
  vi.spyOn(performance, "now").mockImplementation(() => now);
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const leaseFile = (runId: string) => join(dir, "runs", runId, "lease.json");
const runFile = (runId: string) => join(dir, `${runId}.run`);

type Layout = NonNullable<LowdbStoreOptions["layout"]>;
/** The layouts the tests that plant no file run on: `"files"` (the default) and `"folders"`. */
const LAYOUTS: readonly Layout[] = ["files", "folders"];

/** Replaces `lease.json` by a rename, as a process of an earlier version taking the run over does (it does not wait). */
function replaceLease(runId: string, lease: Lease): void {
  const temp = `${leaseFile(runId)}.test.tmp`;
  writeFileSync(temp, serialize(lease), { mode: 0o600 });
  renameSync(temp, leaseFile(runId));
}

/**
 * Replaces the claim file of run file `runId` by a rename, as a taker
 * that does not wait out the holder's trust would (`run-file-leases.ts`'s
 * takeover writes it, then waits): a claim that outranks the lease
 * the run file's last line holds.
 */
function replaceClaim(runId: string, lease: Lease): void {
  const claim = `${runFile(runId)}.claim`;
  writeFileSync(`${claim}.test.tmp`, serialize({ lease }), { mode: 0o600 });
  renameSync(`${claim}.test.tmp`, claim);
}

/**
 * A store holding run `runId` under a lease expiring `ttlMs` from now (real clock), with a snapshot and one append made;
 * kept as `layout` says, which is checked (the run file `<runId>.run`, or the folder `runs/<runId>`, and not the
 * other). Whatever layout a later store is made with, it drives the run where it is kept, as any `LowdbStore` does.
 */
async function holder(runId: string, ttlMs: number, layout: Layout): Promise<{ store: LowdbStore; lease: Lease }> {
  const store = new LowdbStore({ dir, layout });
  const lease = await store.acquireLease(runId, leaseRequest("holder", { ttlMs }));
  await store.writeSnapshot(sampleRun(runId), 0, lease);
  await store.append(runId, [nodeRecord(1, "a")], lease);
  expect(existsSync(runFile(runId)), `the run file of ${runId}`).toBe(layout === "files");
  expect(existsSync(join(dir, "runs", runId)), `the run folder of ${runId}`).toBe(layout === "folders");
  return { store, lease };
}

/** Settles after `ms` of real time (timers are not faked here; only `performance.now()` is held). */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Settles once the lease of `runId` names `owner`: a takeover writes it
 * (`lease.json` of a run folder, the claim file of a run file, which
 * `readLease` reads too) and, in the same synchronous step, reads the
 * clock its wait counts from (`outlastTrust(performance.now())` in
 * `lowdb-leases.ts` and `run-file-store.ts`). Only then may a
 * test move the held clock on: moved earlier (a loaded machine can take
 * longer than any fixed pause to get the taker there), the wait would start
 * from the moved clock and, with the clock held, never end.
 */
async function untilLeaseNames(runId: string, owner: string): Promise<void> {
  // A store of its own: the holder's and the taker's are the ones under test.
  const reader = new LowdbStore({ dir });
  try {
    for (let tries = 0; (await reader.readLease(runId))?.owner !== owner; tries++) {
      if (tries === 2_000) throw new Error(`the lease of ${runId} never named ${owner}`);
      await pause(5);
    }
  } finally {
    await reader.close();
  }
}

/** Who the lease of `runId` names now, read through a store of its own. */
async function leaseOwner(runId: string): Promise<string | undefined> {
  const reader = new LowdbStore({ dir });
  try {
    return (await reader.readLease(runId))?.owner;
  } finally {
    await reader.close();
  }
}

/**
 * The lease `taking` (a takeover of run r1 by owner "taker") is granted:
 * once it has written its lease, it waits while the held clock stands
 * still (real time passes), and returns once the clock moves on by
 * `TRUST_MS`.
 */
async function grantedAfterTrust(taking: Promise<Lease>): Promise<Lease> {
  let granted: Lease | undefined;
  const settled = taking.then((lease) => (granted = lease));
  await untilLeaseNames("r1", "taker");
  await pause(50);
  expect(granted).toBeUndefined();
  now += TRUST_MS;
  await settled;
  return granted!;
}

describe("a fencing check trusted for TRUST_MS", () => {
  it.each(LAYOUTS)(
    "a takeover by another store is not granted before the holder's trust ran out; the holder's next write after it is refused (run kept as %s)",
    async (layout) => {
      const { store, lease } = await holder("r1", 60_000, layout);
      const taker = new LowdbStore({ dir, layout });
      const granted = await grantedAfterTrust(taker.acquireLease("r1", leaseRequest("taker", { takeover: true })));
      expect(granted).toMatchObject({ owner: "taker", token: lease.token + 1 });
      await expect(store.append("r1", [nodeRecord(2, "a")], lease)).rejects.toBeInstanceOf(LeaseLostError);
      await expect(store.writeSnapshot(sampleRun("r1"), 0, lease)).rejects.toMatchObject({ code: "LEASE_LOST", heldToken: lease.token });
      await taker.writeSnapshot(sampleRun("r1"), 0, granted);
      await store.close();
      await taker.close();
    },
  );

  it.each(LAYOUTS)("a takeover after expiry waits as well (run kept as %s)", async (layout) => {
    const { store, lease } = await holder("r1", 60_000, layout);
    const taker = new LowdbStore({ dir, layout });
    // The taker's clock says the lease expired (a clock ahead of the holder's).
    await grantedAfterTrust(taker.acquireLease("r1", leaseRequest("taker", { now: lease.expiresAt + 1 })));
    await expect(store.append("r1", [nodeRecord(2, "a")], lease)).rejects.toBeInstanceOf(LeaseLostError);
    await store.close();
    await taker.close();
  });

  it.each(LAYOUTS)(
    "a takeover that first waited for the run's lock longer than TRUST_MS still waits out the holder's trust, counted from its write (run kept as %s)",
    async (layout) => {
      const { store, lease } = await holder("r1", 60_000, layout);
      // Another process holds the lock (an empty lock file, fresh): the taker waits for it in real time. A run folder's
      // is the lease lock; a run file's, the run's lock, under which the taker writes its claim.
      const lock = layout === "folders" ? join(dir, "runs", "r1", "lease.lock") : `${runFile("r1")}.lock`;
      writeFileSync(lock, "");
      const taker = new LowdbStore({ dir, layout });
      const taking = taker.acquireLease("r1", leaseRequest("taker", { takeover: true }));
      await pause(50);
      // Time the taker spent before its write does not count: the held clock moves on by TRUST_MS while it waits for the lock.
      now += TRUST_MS;
      await pause(50);
      expect(await leaseOwner("r1")).toBe("holder");
      if (layout === "files") expect(existsSync(`${runFile("r1")}.claim`)).toBe(false);
      unlinkSync(lock);
      const granted = await grantedAfterTrust(taking);
      expect(granted).toMatchObject({ owner: "taker", token: lease.token + 1 });
      await expect(store.append("r1", [nodeRecord(2, "a")], lease)).rejects.toBeInstanceOf(LeaseLostError);
      await taker.writeSnapshot(sampleRun("r1"), 0, granted);
      await store.close();
      await taker.close();
    },
  );

  it.each([
    ["near its expiry", TRUST_MARGIN_MS - 1_000],
    ["past its expiry", -1_000],
  ])("a lease %s is looked at on every write: a takeover that does not wait is refused at the next write", async (_name, ttlMs) => {
    const { store, lease } = await holder("r1", ttlMs, "folders");
    replaceLease("r1", { ...lease, owner: "earlier-version", token: lease.token + 1, expiresAt: Date.now() + 60_000 });
    await expect(store.append("r1", [nodeRecord(2, "a")], lease)).rejects.toMatchObject({ code: "LEASE_LOST", currentToken: lease.token + 1 });
    await store.close();
  });

  it.each([
    ["near its expiry", TRUST_MARGIN_MS - 1_000],
    ["past its expiry", -1_000],
  ])("a run file's lease %s is looked at on every write: a claim over it written without a wait is refused at the next write", async (_name, ttlMs) => {
    const { store, lease } = await holder("r1", ttlMs, "files");
    // Every taker of a run file waits after its claim; this one stands for any claim the holder's trust would hide.
    replaceClaim("r1", { ...lease, owner: "no-wait", token: lease.token + 1, expiresAt: Date.now() + 60_000 });
    await expect(store.append("r1", [nodeRecord(2, "a")], lease)).rejects.toMatchObject({ code: "LEASE_LOST", currentToken: lease.token + 1 });
    await store.close();
  });

  it.each(LAYOUTS)(
    "a lease far from expiry that another store asks to cancel is still written to, and its renewal sees the request (run kept as %s)",
    async (layout) => {
      const { store, lease } = await holder("r1", 60_000, layout);
      const other = new LowdbStore({ dir, layout });
      expect(await other.requestCancel("r1", { token: lease.token, reason: "stop", at: 5 })).toBe(true);
      await store.append("r1", [nodeRecord(2, "a")], lease);
      const renewed = await store.renewLease(lease, 60_000, Date.now());
      expect(renewed.cancelRequested).toEqual({ token: lease.token, reason: "stop", at: 5 });
      await store.append("r1", [nodeRecord(3, "a")], renewed);
      await store.close();
      await other.close();
    },
  );

  it.each(LAYOUTS)("a lease given back by its own store is refused at once, trusted or not (run kept as %s)", async (layout) => {
    const { store, lease } = await holder("r1", 60_000, layout);
    await store.releaseLease(lease);
    await expect(store.append("r1", [nodeRecord(2, "a")], lease)).rejects.toBeInstanceOf(LeaseLostError);
    await store.close();
  });
});
