/**
 * Several `LowdbStore` objects on one run, their calls interleaved in
 * every order worth trying (a holder, takers, a deleter, a store that
 * renews or gives back a lease it did not take, a tool's write without a
 * lease, a store used again after `close`), each with and without `fsync`,
 * on both layouts. Each test states what the `RunStore` contract and
 * docs/durability.md promise: no write lost without an error, no deleted
 * run brought back, no write landing in another owner's run, no lease
 * reported that is not held, and the folder layout's refusals.
 *
 * Written as a hunt for siblings of a bug the twenty-sixth pass found (a
 * run file deleted under a live holder kept taking its writes); the run
 * file cases that failed then are fixed: a process has one writer per run
 * file, handed between its store objects (`run-file-store.ts`, `WRITING`),
 * a writer opened with a lease takes it on while it is the run's, and a
 * compaction by a writer without a lease keeps the lease the file says.
 * The folder layout's cases that failed then (runs kept by earlier
 * versions, or with `layout: "folders"`) are fixed in the twenty-seventh
 * pass, and every case runs on both layouts: a lease given back by another
 * store object, or a run deleted, ends its holder's trust in its last look
 * (`run-folder-changes.ts`); a lease given back keeps its token, so the
 * next holder's is above it; an append after another object's compaction
 * opens the journal again at its end, and a record is not written compact
 * against a snapshot another object replaced (S34, found while fixing
 * them); a takeover that waited for the lock while the run was deleted
 * holds a new run; a snapshot that raced a delete is `LeaseLostError`.
 */
import { pbkdf2 } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { setImmediate as setImmediateAsync } from "node:timers/promises";
import { promisify } from "node:util";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { getNode } from "../src/state/node-table.js";
import { markFailed, markPending, markRunning } from "../src/state/node-transitions.js";
import { applyTransition } from "../src/state/run-state.js";
import type { Lease } from "../src/persistence/run-store.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { leaseRequest } from "./support/lease-request.js";

const pbkdf2Async = promisify(pbkdf2);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-adv-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What a call did: "ok" (with its value), or the error's class name and code. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    const v = await p;
    return `ok${v === undefined ? "" : ":" + JSON.stringify(v)}`;
  } catch (err) {
    const e = err as Error & { code?: string };
    return `${e.constructor.name}${e.code ? "/" + e.code : ""}`;
  }
}

const expired = (owner: string) => leaseRequest(owner, { now: Date.now() - 2_000, ttlMs: 1_000 });

describe.each([
  ["files", false],
  ["folders", false],
  ["files", true],
  ["folders", true],
] as const)("adversarial (layout %s, fsync %s)", (layout, fsync) => {
  const store = () => new LowdbStore({ dir, layout, fsync });
  const kept = (runId: string) => existsSync(layout === "files" ? join(dir, `${runId}.run`) : join(dir, "runs", runId));
  const stores: LowdbStore[] = [];
  const mk = () => {
    const s = store();
    stores.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  });

  async function holder(owner = "holder", req = expired(owner)) {
    const h = mk();
    const lease = await h.acquireLease("r1", req);
    await h.writeSnapshot(sampleRun("r1"), 0, lease);
    await h.append("r1", [nodeRecord(1, "a")], lease);
    return { h, lease };
  }

  /** Deletes run r1 through a store of its own, then takes its lease as owner "new" (a new run, not started yet). */
  async function deleteAndTake() {
    const d = mk();
    expect(await d.delete("r1")).toBe(true);
    const n = mk();
    const nl = await n.acquireLease("r1", leaseRequest("new"));
    return { d, n, nl };
  }

  /** {@link deleteAndTake}, then starts the new run (created at 9,000). */
  async function deleteAndRecreate() {
    const taken = await deleteAndTake();
    await taken.n.writeSnapshot(sampleRun("r1", { now: 9_000 }), 0, taken.nl);
    return taken;
  }

  /** What the old holder's append, compaction and renewal with `lease` do, each as `outcome` says. */
  async function oldHolderWrites(h: LowdbStore, lease: Lease) {
    return {
      append: await outcome(h.append("r1", [nodeRecord(2, "b")], lease)),
      snap: await outcome(h.writeSnapshot(sampleRun("r1", { now: 5_000 }), 3, lease)),
      renew: await outcome(h.renewLease(lease, 60_000, Date.now())),
    };
  }

  it("S1: expired holder, taken over (expiry), taker releases, deleted, re-created: old holder refused everywhere", async () => {
    const { h, lease } = await holder();
    const t = mk();
    const tl = await t.acquireLease("r1", leaseRequest("taker"));
    await t.load("r1");
    await t.releaseLease(tl);
    const { d, n, nl } = await deleteAndRecreate();
    const res = {
      ...(await oldHolderWrites(h, lease)),
      acquire: await outcome(h.acquireLease("r1", leaseRequest("holder")).then((l) => l.owner)),
    };
    await outcome(h.releaseLease(lease));
    expect(res).toEqual({
      append: "LeaseLostError/LEASE_LOST",
      snap: "LeaseLostError/LEASE_LOST",
      renew: "RunLockedError/RUN_LOCKED",
      acquire: "RunLockedError/RUN_LOCKED",
    });
    const loaded = await d.load("r1");
    expect(loaded?.state.meta.createdAt).toBe(9_000);
    expect(loaded?.seq).toBe(0);
    expect((await d.readLease("r1"))?.owner).toBe("new");
    await n.append("r1", [nodeRecord(1, "c")], nl);
    expect((await d.load("r1"))?.seq).toBe(1);
  });

  it("S2: live holder taken over with takeover:true, taker releases, deleted, re-created: old holder refused", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const t = mk();
    const tl = await t.acquireLease("r1", leaseRequest("taker", { takeover: true }));
    await t.releaseLease(tl);
    const { d } = await deleteAndRecreate();
    const res = await oldHolderWrites(h, lease);
    await outcome(h.releaseLease(lease));
    expect(res).toEqual({ append: "LeaseLostError/LEASE_LOST", snap: "LeaseLostError/LEASE_LOST", renew: "RunLockedError/RUN_LOCKED" });
    expect((await d.load("r1"))?.state.meta.createdAt).toBe(9_000);
    expect((await d.readLease("r1"))?.owner).toBe("new");
  });

  it("S3: live holder taken over (takeover:true); holder acquires again with its own owner: RunLockedError", async () => {
    const { h } = await holder("holder", leaseRequest("holder"));
    const t = mk();
    await t.acquireLease("r1", leaseRequest("taker", { takeover: true }));
    expect(await outcome(h.acquireLease("r1", leaseRequest("holder")))).toBe("RunLockedError/RUN_LOCKED");
  });

  it("S3b: expired holder taken over, taker releases; holder acquires again with its own owner: granted", async () => {
    const { h } = await holder();
    const t = mk();
    const tl = await t.acquireLease("r1", leaseRequest("taker"));
    await t.releaseLease(tl);
    const r = await outcome(h.acquireLease("r1", leaseRequest("holder")).then((l) => l.owner));
    expect(r).toBe('ok:"holder"');
    expect((await t.readLease("r1"))?.owner).toBe("holder");
  });

  it("S4: lease released by another store object; holder's store re-acquires with the same owner: granted", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const b = mk();
    await b.releaseLease(lease);
    expect(await b.readLease("r1")).toBeUndefined();
    const r = await outcome(h.acquireLease("r1", leaseRequest("holder")).then((l) => l.owner));
    expect(r).toBe('ok:"holder"');
    const l2 = (await h.readLease("r1"))!;
    expect(l2.owner).toBe("holder");
    await h.append("r1", [nodeRecord(2, "b")], l2);
    expect((await b.load("r1"))?.seq).toBe(2);
  });

  it("S4b: lease released by another store; holder's next append after trust is refused", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const b = mk();
    await b.releaseLease(lease);
    await new Promise((r) => setTimeout(r, 60));
    expect(await outcome(h.append("r1", [nodeRecord(2, "b")], lease))).toBe("LeaseLostError/LEASE_LOST");
  });

  it("S5: holder's store closed; it appends with its still-live lease", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    await h.close();
    const r = await outcome(h.append("r1", [nodeRecord(2, "b")], lease));
    const r2 = await outcome(h.writeSnapshot(sampleRun("r1"), 2, lease));
    const r3 = await outcome(h.renewLease(lease, 60_000, Date.now()).then((l) => l.owner));
    expect({ r, r2, r3 }).toEqual({ r: "ok", r2: "ok", r3: 'ok:"holder"' });
  });

  it("S6: another store renews the holder's lease (adopts), then both append: nothing lost", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const b = mk();
    const renewed = await b.renewLease(lease, 60_000, Date.now());
    await h.append("r1", [nodeRecord(2, "b")], lease);
    await b.append("r1", [nodeRecord(3, "c")], renewed);
    await h.append("r1", [nodeRecord(4, "a", { status: "succeeded" })], lease);
    const loaded = await mk().load("r1");
    expect(loaded?.seq).toBe(4);
  });

  it("S7: release by an expired holder after delete, and after re-creation: no effect on the new run", async () => {
    const { h, lease } = await holder();
    const d = mk();
    expect(await d.delete("r1")).toBe(true);
    expect(await outcome(h.releaseLease(lease))).toBe("ok");
    expect(kept("r1")).toBe(false);
    expect(await d.readLease("r1")).toBeUndefined();
    expect(await d.list()).toEqual([]);
    const n = mk();
    const nl = await n.acquireLease("r1", leaseRequest("new"));
    await n.writeSnapshot(sampleRun("r1", { now: 9_000 }), 0, nl);
    expect(await outcome(h.releaseLease(lease))).toBe("ok");
    const b = mk();
    expect(await outcome(b.releaseLease(lease))).toBe("ok");
    expect((await d.readLease("r1"))?.owner).toBe("new");
    await n.append("r1", [nodeRecord(1, "b")], nl);
    expect((await d.load("r1"))?.seq).toBe(1);
  });

  it("S8: cancel request after delete: false; after re-creation, a request for the deleted run's holder does not reach the new one", async () => {
    const { lease } = await holder();
    const d = mk();
    await d.delete("r1");
    expect(await d.requestCancel("r1", { token: lease.token, reason: "x", at: 1, owner: lease.owner })).toBe(false);
    expect(kept("r1")).toBe(false);
    expect(await d.list()).toEqual([]);
    expect(await d.readLease("r1")).toBeUndefined();
    // A new run of that id starts its tokens again at 1: the request names its holder, so it is not this one's.
    const n = mk();
    const nl = await n.acquireLease("r1", leaseRequest("new"));
    expect(nl.token).toBe(lease.token);
    expect(await d.requestCancel("r1", { token: lease.token, reason: "late", at: 2, owner: lease.owner })).toBe(false);
    expect((await n.renewLease(nl, 60_000, Date.now())).cancelRequested).toBeUndefined();
  });

  it("S9: expired holder compacts after delete: refused, run stays deleted", async () => {
    const { h, lease } = await holder();
    const d = mk();
    await d.delete("r1");
    expect(await outcome(h.writeSnapshot(sampleRun("r1"), 1, lease))).toBe("LeaseLostError/LEASE_LOST");
    expect(kept("r1")).toBe(false);
    expect(await d.list()).toEqual([]);
  });

  it("S10: expired holder taken over; holder compacts: refused, taker's run intact", async () => {
    const { h, lease } = await holder();
    const t = mk();
    const tl = await t.acquireLease("r1", leaseRequest("taker"));
    await t.load("r1");
    await t.append("r1", [nodeRecord(2, "b")], tl);
    expect(await outcome(h.writeSnapshot(sampleRun("r1", { now: 5 }), 7, lease))).toBe("LeaseLostError/LEASE_LOST");
    expect(await outcome(h.append("r1", [nodeRecord(3, "c")], lease))).toBe("LeaseLostError/LEASE_LOST");
    const loaded = await mk().load("r1");
    expect(loaded?.seq).toBe(2);
    expect((await mk().readLease("r1"))?.owner).toBe("taker");
    await t.append("r1", [nodeRecord(3, "c")], tl);
    expect((await mk().load("r1"))?.seq).toBe(3);
  });

  it("S11: cancel request on expired holder, then takeover, then holder renews: refused; taker has no cancel", async () => {
    const { h, lease } = await holder();
    const c = mk();
    expect(await c.requestCancel("r1", { token: lease.token, reason: "stop", at: 1 })).toBe(true);
    const t = mk();
    const tl = await t.acquireLease("r1", leaseRequest("taker"));
    expect(tl.cancelRequested).toBeUndefined();
    expect(await outcome(h.renewLease(lease, 60_000, Date.now()))).toBe("RunLockedError/RUN_LOCKED");
    const renewed = await t.renewLease(tl, 60_000, Date.now());
    expect(renewed.cancelRequested).toBeUndefined();
    expect((await c.readLease("r1"))?.cancelRequested).toBeUndefined();
  });

  it("S12: holder releases, then another store deletes, then holder's store starts the id again", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    await h.releaseLease(lease);
    const d = mk();
    expect(await d.delete("r1")).toBe(true);
    const l2 = await h.acquireLease("r1", leaseRequest("holder2"));
    await h.writeSnapshot(sampleRun("r1", { now: 9_000 }), 0, l2);
    expect((await d.load("r1"))?.state.meta.createdAt).toBe(9_000);
    expect(await outcome(h.append("r1", [nodeRecord(1, "b")], lease))).toBe("LeaseLostError/LEASE_LOST");
  });

  it("S13: delete refused while live; after takeover:true by T, delete refused (T live); holder's release does not free T", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const d = mk();
    expect(await outcome(d.delete("r1"))).toBe("RunLockedError/RUN_LOCKED");
    const t = mk();
    const tl = await t.acquireLease("r1", leaseRequest("taker", { takeover: true }));
    await h.releaseLease(lease);
    expect((await d.readLease("r1"))?.owner).toBe("taker");
    expect(await outcome(d.delete("r1"))).toBe("RunLockedError/RUN_LOCKED");
    await t.append("r1", [nodeRecord(2, "b")], tl);
    expect((await d.load("r1"))?.seq).toBe(2);
  });

  it("S14: holder's same-store re-acquire (same owner) after delete + re-create by another: RunLockedError, new run intact", async () => {
    const { h, lease } = await holder();
    const { d, n, nl } = await deleteAndTake();
    expect(await outcome(h.acquireLease("r1", leaseRequest("holder")))).toBe("RunLockedError/RUN_LOCKED");
    await n.writeSnapshot(sampleRun("r1", { now: 9_000 }), 0, nl);
    expect(await outcome(h.append("r1", [nodeRecord(2, "b")], lease))).toBe("LeaseLostError/LEASE_LOST");
    expect((await d.load("r1"))?.seq).toBe(0);
  });

  it("S15: new run with same id acquired (no snapshot yet) while old holder has file open; old holder's writes refused, new run starts cleanly", async () => {
    const { h, lease } = await holder();
    const { d, n, nl } = await deleteAndTake();
    expect(await outcome(h.writeSnapshot(sampleRun("r1", { now: 4_000 }), 0, lease))).toBe("LeaseLostError/LEASE_LOST");
    expect(await d.load("r1")).toBeUndefined();
    await n.writeSnapshot(sampleRun("r1", { now: 9_000 }), 0, nl);
    expect((await d.load("r1"))?.state.meta.createdAt).toBe(9_000);
  });

  it("S16: expired holder deleted; holder released; same owner re-acquire on holder store; then old lease object's append", async () => {
    const { h, lease } = await holder();
    const d = mk();
    await d.delete("r1");
    const again = await h.acquireLease("r1", leaseRequest("holder"));
    // old lease object (same owner, maybe same token) must not write into the new run before its start
    // The old lease object and the new one have one owner and token: whether the store refuses it (a run file: the run
    // has not started) or takes it (a run folder), the new run must start clean.
    await outcome(h.append("r1", [nodeRecord(5, "b")], lease));
    await h.writeSnapshot(sampleRun("r1", { now: 9_000 }), 0, again);
    expect((await d.load("r1"))?.seq).toBe(0);
  });

  it("S18: takeover:true of a live lease, then holder within its trust window appends once; taker sees it (or holder refused)", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const t = mk();
    const taking = t.acquireLease("r1", leaseRequest("taker", { takeover: true }));
    await new Promise((r) => setTimeout(r, 5));
    const r = await outcome(h.append("r1", [nodeRecord(2, "b")], lease));
    const tl = await taking;
    const loaded = await t.load("r1");
    if (r === "ok") expect(loaded?.seq).toBe(2);
    expect(await outcome(h.append("r1", [nodeRecord(3, "b")], lease))).toBe("LeaseLostError/LEASE_LOST");
    await t.append("r1", [nodeRecord(3, "c")], tl);
    expect((await mk().load("r1"))?.seq).toBe(3);
  });

  it("S19: cancel request after release: false; readLease undefined", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    await h.releaseLease(lease);
    const c = mk();
    expect(await c.requestCancel("r1", { token: lease.token, reason: "x", at: 1 })).toBe(false);
    expect(await c.readLease("r1")).toBeUndefined();
  });

  it("S20: holder's renewal after another store's delete (expired): RunLockedError, nothing recreated", async () => {
    const { h, lease } = await holder();
    const d = mk();
    await d.delete("r1");
    expect(await outcome(h.renewLease(lease, 60_000, Date.now()))).toBe("RunLockedError/RUN_LOCKED");
    expect(kept("r1")).toBe(false);
    expect(await d.list()).toEqual([]);
    expect(await d.readLease("r1")).toBeUndefined();
  });

  it("S21: another store renews an expired holder's lease after a delete: refused, nothing recreated", async () => {
    const { lease } = await holder();
    const d = mk();
    await d.delete("r1");
    const b = mk();
    expect(await outcome(b.renewLease(lease, 60_000, Date.now()))).toBe("RunLockedError/RUN_LOCKED");
    expect(await outcome(b.append("r1", [nodeRecord(2, "b")], lease))).not.toBe("ok");
    expect(kept("r1")).toBe(false);
  });
  it("S22: live holder's lease released by another store, run deleted at once, holder appends within its trust", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const b = mk();
    await b.releaseLease(lease);
    const d = mk();
    expect(await outcome(d.delete("r1"))).toBe("ok:true");
    // Data must not be lost silently: the holder's append is refused (its writer was closed when its lease was given
    // back, and the run is gone).
    expect(await outcome(h.append("r1", [nodeRecord(2, "b")], lease))).toBe("LeaseLostError/LEASE_LOST");
    expect(kept("r1")).toBe(false);
  });

  it("S23: B adopts A's lease by renewal; A compacts; B appends at once: not lost", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const b = mk();
    const renewed = await b.renewLease(lease, 60_000, Date.now());
    await h.writeSnapshot(sampleRun("r1"), 1, lease);
    const r = await outcome(b.append("r1", [nodeRecord(2, "b")], renewed));
    const loaded = await mk().load("r1");
    if (r === "ok") expect(loaded?.seq).toBe(2);
  });

  it("S23b: B adopts A's lease by renewal; B compacts; A appends at once: not lost", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const b = mk();
    const renewed = await b.renewLease(lease, 60_000, Date.now());
    await b.writeSnapshot(sampleRun("r1"), 1, renewed);
    const r = await outcome(h.append("r1", [nodeRecord(2, "b")], lease));
    const loaded = await mk().load("r1");
    if (r === "ok") expect(loaded?.seq).toBe(2);
  });

  it("S24: B renews an expired A lease (60 s); A compacts; lease still reported live, delete refused", async () => {
    const { h, lease } = await holder();
    const b = mk();
    const renewed = await b.renewLease(lease, 60_000, Date.now());
    await outcome(h.writeSnapshot(sampleRun("r1"), 1, lease));
    const seen = await mk().readLease("r1");
    const del = await outcome(mk().delete("r1"));
    expect(seen?.expiresAt).toBe(renewed.expiresAt);
    expect(del).toBe("RunLockedError/RUN_LOCKED");
  });

  it("S25: unfenced snapshot by a tool store while A holds a live lease: lease still reported", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const tool = mk();
    await tool.writeSnapshot(sampleRun("r1"), 1);
    const seen = await mk().readLease("r1");
    const other = await outcome(
      mk()
        .acquireLease("r1", leaseRequest("other"))
        .then((l) => l.owner),
    );
    const r = await outcome(h.append("r1", [nodeRecord(2, "b")], lease));
    expect(seen?.owner).toBe("holder");
    expect(other).toBe("RunLockedError/RUN_LOCKED");
    // The holder still holds the run: its append goes through, and is there.
    expect(r).toBe("ok");
    expect((await mk().load("r1"))?.seq).toBe(2);
  });

  it("S26: quiet re-acquire, deleted (expired), re-created; quiet holder's release leaves new run intact", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    await h.releaseLease(lease);
    const q = mk();
    const ql = await q.acquireLease("r1", expired("quiet"));
    const { d, n, nl } = await deleteAndRecreate();
    await n.append("r1", [nodeRecord(1, "b")], nl);
    expect(await outcome(q.releaseLease(ql))).toBe("ok");
    expect((await d.load("r1"))?.seq).toBe(1);
    expect((await d.readLease("r1"))?.owner).toBe("new");
    await n.append("r1", [nodeRecord(2, "c")], nl);
    expect((await d.load("r1"))?.seq).toBe(2);
  });

  it("S27: unfenced append by a tool store while A holds and appends", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const tool = mk();
    await tool.append("r1", [nodeRecord(2, "b")]);
    await h.append("r1", [nodeRecord(3, "c")], lease);
    await tool.append("r1", [nodeRecord(4, "c", { status: "succeeded" })]);
    const r = await outcome(
      mk()
        .load("r1")
        .then((l) => l?.seq),
    );
    expect(r).toBe("ok:4");
  });

  it("S28: lease released by another store; holder renews: RunLockedError; holder releases: ok", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const b = mk();
    await b.releaseLease(lease);
    expect(await outcome(h.renewLease(lease, 60_000, Date.now()))).toBe("RunLockedError/RUN_LOCKED");
    expect(await outcome(h.releaseLease(lease))).toBe("ok");
    expect(await b.readLease("r1")).toBeUndefined();
    const t = await mk().acquireLease("r1", leaseRequest("t"));
    expect((await b.readLease("r1"))?.owner).toBe("t");
    expect(t.owner).toBe("t");
  });
  it("S29: takeover of an expired holder races the holder's compaction and append", async () => {
    const { h, lease } = await holder();
    const t = mk();
    const taking = t.acquireLease("r1", leaseRequest("taker"));
    const snap = h.writeSnapshot(sampleRun("r1", { now: 5 }), 1, lease);
    const app = h.append("r1", [nodeRecord(2, "b")], lease);
    const [tl, , a1] = [await taking, await outcome(snap), await outcome(app)];
    const loaded = await t.load("r1");
    if (a1 === "ok") expect(loaded?.seq).toBe(2);
    await t.append("r1", [nodeRecord(3, "c")], tl);
    expect((await mk().load("r1"))?.seq).toBe(3);
    expect((await mk().readLease("r1"))?.owner).toBe("taker");
  });

  it("S34: a tool's snapshot while the holder's journal is empty; the holder's next record, compact against what it loaded, is kept as written", async () => {
    // Node "b" failed once (at `at`): its reset for a resume carries that attempt in its log, and may be written as
    // "the previous record, reset" (journal-delta.ts).
    const failedAt = (at: number) =>
      applyTransition(
        applyTransition(sampleRun("r1"), "b", markRunning(at), at),
        "b",
        markFailed({ name: "Error", message: `failed at ${at}` }, at + 1),
        at + 1,
      );
    const h = mk();
    const lease = await h.acquireLease("r1", leaseRequest("holder"));
    await h.writeSnapshot(failedAt(1_010), 0, lease);
    // Loaded: the holder knows what the files hold.
    const mine = getNode((await h.load("r1"))!.state.nodes, "b")!;
    const tool = mk();
    await tool.load("r1");
    // Another version of node "b" (failed at 7,000), the journal empty before and after.
    await tool.writeSnapshot(failedAt(7_000), 0);
    const reset = markPending()(mine);
    await h.append("r1", [{ kind: "node", seq: 1, node: reset }], lease);
    const loaded = await mk().load("r1");
    expect(loaded?.seq).toBe(1);
    // As the holder wrote it: its own failed attempt in the log, not the tool's.
    expect(getNode(loaded!.state.nodes, "b")).toEqual(reset);
  });

  it("S30: delete races the expired holder's compaction", async () => {
    const { h, lease } = await holder();
    const d = mk();
    const del = d.delete("r1");
    const snap = h.writeSnapshot(sampleRun("r1", { now: 5 }), 1, lease);
    const [r1, r2] = [await outcome(del), await outcome(snap)];
    expect(r1).toBe("ok:true");
    expect(kept("r1")).toBe(false);
    const r3 = await outcome(h.writeSnapshot(sampleRun("r1", { now: 6 }), 1, lease));
    expect(kept("r1")).toBe(false);
    // A run file refuses the racing compaction; a run folder's may land whole before the delete takes the folder
    // (a write, then a delete). The write after the delete is refused.
    if (layout === "files") expect(r2).toBe("LeaseLostError/LEASE_LOST");
    else expect(["ok", "LeaseLostError/LEASE_LOST"]).toContain(r2);
    expect(r3).toBe("LeaseLostError/LEASE_LOST");
  });

  it("S30b: delete lands while the expired holder's snapshot is being written: refused, nothing kept", async () => {
    const { h, lease } = await holder();
    const d = mk();
    await d.list();
    // Over a large write (LARGE_WRITE_BYTES), so that its temp file is made at once and written through the thread pool.
    const big = sampleRun("r1", { now: 5, nodeIds: ["a", ...Array.from({ length: 150_000 }, (_, i) => `n${i}`)] });
    // Every thread of the pool busy: the snapshot's first write waits for one, its temp file open, while the delete runs.
    const busy = Array.from({ length: Number(process.env.UV_THREADPOOL_SIZE ?? 4) }, () => pbkdf2Async("x", "y", 300_000, 64, "sha512"));
    let settled = false;
    const snap = outcome(h.writeSnapshot(big, 1, lease)).finally(() => (settled = true));
    // A run folder's snapshot: its temp file made. A run file's compaction is synchronous under the run's lock: no
    // delete lands within it, and it settles first.
    while (!settled && !readdirSync(dir, { recursive: true }).some((name) => String(name).endsWith(".tmp"))) await setImmediateAsync();
    const r1 = await outcome(d.delete("r1"));
    const r2 = await snap;
    await Promise.all(busy);
    expect(r1).toBe("ok:true");
    expect(kept("r1")).toBe(false);
    expect(await d.list()).toEqual([]);
    // The write that raced the delete did not count (nothing of it is kept): refused as a lost lease, not a system
    // error. One that settled first landed whole before the delete.
    expect(r2).toBe(layout === "folders" ? "LeaseLostError/LEASE_LOST" : "ok");
  });

  it("S31: delete of a run whose lease was taken but which never started", async () => {
    const a = mk();
    const l = await a.acquireLease("r1", expired("a"));
    const d = mk();
    expect(await outcome(d.delete("r1"))).toBe("ok:false");
    expect(await outcome(a.writeSnapshot(sampleRun("r1"), 0, l))).toBe("LeaseLostError/LEASE_LOST");
  });

  it("S32: takeover waiting for the lock while the run is deleted", async () => {
    const { lease } = await holder();
    void lease;
    const d = mk();
    const t = mk();
    const del = d.delete("r1");
    const taking = t.acquireLease("r1", leaseRequest("taker"));
    const [r1, r2] = [await outcome(del), await outcome(taking.then((l) => `${l.owner}/${l.token}`))];
    const n = mk();
    const r3 = await outcome(n.acquireLease("r1", leaseRequest("new")).then((l) => `${l.owner}/${l.token}`));
    // The taker that waited for the lock holds a new run of that id; the next owner is refused.
    expect([r1, r2, r3]).toEqual(["ok:true", 'ok:"taker/1"', "RunLockedError/RUN_LOCKED"]);
  });

  it("S33: cancel request between a holder's release and a new acquire does not reach the new holder", async () => {
    const { h, lease } = await holder("holder", leaseRequest("holder"));
    const c = mk();
    // cancelRun read the lease (token) before the release
    const token = (await c.readLease("r1"))!.token;
    await h.releaseLease(lease);
    const n = mk();
    const nl = await n.acquireLease("r1", leaseRequest("new"));
    // The new owner's token is above the given-back one's, so the late request is for nobody.
    expect(nl.token).toBeGreaterThan(token);
    expect(await c.requestCancel("r1", { token, reason: "late", at: 1 })).toBe(false);
    const renewed = await n.renewLease(nl, 60_000, Date.now());
    expect(renewed.cancelRequested).toBeUndefined();
  });
});

describe.each(["files", "folders"] as const)("minimal repros (layout %s)", (layout) => {
  it("R1: renewal by a second store object, then one append by the first, fsync: run readable", async () => {
    const a = new LowdbStore({ dir, layout, fsync: true });
    const b = new LowdbStore({ dir, layout, fsync: true });
    const lease = await a.acquireLease("r1", leaseRequest("holder"));
    await a.writeSnapshot(sampleRun("r1"), 0, lease);
    const renewed = await b.renewLease(lease, 60_000, Date.now());
    await a.append("r1", [nodeRecord(1, "b")], lease);
    await b.append("r1", [nodeRecord(2, "c")], renewed);
    const r = await outcome(new LowdbStore({ dir, layout }).load("r1").then((l) => l?.seq));
    await a.close();
    await b.close();
    expect(r).toBe("ok:2");
  });

  it("R2: renewal by a second store object survives the first's compaction (delete refused)", async () => {
    const a = new LowdbStore({ dir, layout });
    const b = new LowdbStore({ dir, layout });
    const lease = await a.acquireLease("r1", expired("holder"));
    await a.writeSnapshot(sampleRun("r1"), 0, lease);
    const renewed = await b.renewLease(lease, 60_000, Date.now());
    await a.writeSnapshot(sampleRun("r1"), 0, lease);
    const seen = await new LowdbStore({ dir, layout }).readLease("r1");
    const del = await outcome(new LowdbStore({ dir, layout }).delete("r1"));
    await a.close();
    await b.close();
    expect({ expiresAt: seen?.expiresAt, del }).toEqual({ expiresAt: renewed.expiresAt, del: "RunLockedError/RUN_LOCKED" });
  });
});
