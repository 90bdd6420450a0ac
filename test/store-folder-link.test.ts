/**
 * A store folder that is itself a symbolic link (a volume mounted
 * elsewhere: the user's choice) is followed, on both layouts, with and
 * without `fsync`; what is planted inside it is still refused
 * (test/store-symlinks.test.ts). Every call that writes in the store
 * folder is made once through the link: a start, a compaction, a takeover
 * of a live holder's lease (for a run file: its claim file, written by
 * temp file and rename in the store folder, then the folder flushed with
 * `fsync`), a cancel request, a resume, `list` and `delete`. With `fsync`,
 * the claim's folder was flushed without following the link (`ENOTDIR`),
 * so a takeover or a cancel request of a run file failed.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { graph, resolveWait, run, runAsync } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { leaseRequest } from "./support/lease-request.js";
import { nextEvent } from "./support/async.js";

let root: string;
let real: string;
let linked: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "taskloom-store-link-"));
  real = join(root, "volume");
  linked = join(root, "store");
  mkdirSync(real, { mode: 0o700 });
  symlinkSync(real, linked);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const oneNode = () =>
  graph("one")
    .node("a", async () => 1)
    .build();

describe.each([
  { layout: "files", fsync: false },
  { layout: "files", fsync: true },
  { layout: "folders", fsync: false },
  { layout: "folders", fsync: true },
] as const)("a store folder that is a symbolic link ($layout, fsync: $fsync)", ({ layout, fsync }) => {
  const store = () => new LowdbStore({ dir: linked, layout, fsync });
  const runPath = (runId: string) => (layout === "files" ? join(real, `${runId}.run`) : join(real, "runs", runId));

  it("is followed by a start, a compaction, a takeover of a live lease, a cancel request, a resume, list and delete", async () => {
    const holder = store();
    const held = await holder.acquireLease("r", leaseRequest("holder"));
    await holder.writeSnapshot(sampleRun("r"), 0, held);
    await holder.append("r", [nodeRecord(1, "a")], held);
    await holder.writeSnapshot(sampleRun("r"), 1, held);
    expect(existsSync(runPath("r"))).toBe(true);

    // Another store takes the lease its holder (this process, alive) still has: for a run file, through its claim.
    const taker = store();
    const taken = await taker.acquireLease("r", leaseRequest("taker", { takeover: true }));
    expect(taken).toMatchObject({ owner: "taker", token: held.token + 1 });
    await expect(holder.append("r", [nodeRecord(2, "a")], held)).rejects.toMatchObject({ code: "LEASE_LOST" });
    expect(await holder.requestCancel("r", { token: taken.token, reason: "stop", at: 5 })).toBe(true);
    expect((await taker.renewLease(taken, 60_000, Date.now())).cancelRequested).toEqual({ token: taken.token, reason: "stop", at: 5 });
    await taker.releaseLease(taken);
    await holder.close();
    await taker.close();

    const runner = store();
    await expect(runAsync(oneNode(), undefined, { store: runner, runId: "s" })).resolves.toEqual({ a: 1 });
    // A resume of the finished run takes its lease back (a takeover of a lease given back) and gives its outputs.
    await expect(runAsync(oneNode(), undefined, { store: runner, runId: "s" })).resolves.toEqual({ a: 1 });
    expect((await runner.list()).map((run) => run.runId).sort()).toEqual(["r", "s"]);
    expect(await runner.delete("s")).toBe(true);
    expect(existsSync(runPath("s"))).toBe(false);
    expect(existsSync(runPath("r"))).toBe(true);
    await runner.close();
  });
});

describe("two store objects reaching one folder through a link and through its real path", () => {
  it("share one writer per run file: with fsync, a renewal by one and appends by both keep the run whole", async () => {
    const viaLink = new LowdbStore({ dir: linked, fsync: true });
    const viaReal = new LowdbStore({ dir: real, fsync: true });
    const lease = await viaLink.acquireLease("r", leaseRequest("holder"));
    await viaLink.writeSnapshot(sampleRun("r"), 0, lease);
    // The other object renews the lease it did not take, then both append with it.
    const renewed = await viaReal.renewLease(lease, 60_000, Date.now());
    await viaLink.append("r", [nodeRecord(1, "a")], lease);
    await viaReal.append("r", [nodeRecord(2, "b")], renewed);
    await viaLink.append("r", [nodeRecord(3, "c")], lease);
    await viaLink.close();
    await viaReal.close();
    const reader = new LowdbStore({ dir: real });
    const loaded = await reader.load("r");
    expect(loaded?.seq).toBe(3);
    expect((await reader.readLease("r"))?.expiresAt).toBe(renewed.expiresAt);
    await reader.close();
  });

  it("share what they change in a run folder: with fsync, an append after the other's compaction is kept", async () => {
    const viaLink = new LowdbStore({ dir: linked, fsync: true, layout: "folders" });
    const viaReal = new LowdbStore({ dir: real, fsync: true, layout: "folders" });
    const lease = await viaLink.acquireLease("r", leaseRequest("holder"));
    await viaLink.writeSnapshot(sampleRun("r"), 0, lease);
    await viaLink.append("r", [nodeRecord(1, "a")], lease);
    // The other object renews the lease it did not take and compacts (empties the journal the first has open).
    const renewed = await viaReal.renewLease(lease, 60_000, Date.now());
    await viaReal.writeSnapshot(sampleRun("r"), 1, renewed);
    await viaLink.append("r", [nodeRecord(2, "b")], lease);
    await viaLink.close();
    await viaReal.close();
    const reader = new LowdbStore({ dir: real, layout: "folders" });
    expect((await reader.load("r"))?.seq).toBe(2);
    await reader.close();
  });
});

describe.each(["files", "folders"] as const)("a store object through the link and one on the real path (%s)", (layout) => {
  it("are one location: resolveWait through the link reaches the run the other drives, live", async () => {
    const driver = new LowdbStore({ dir: real, layout });
    const webhook = new LowdbStore({ dir: linked, layout });
    try {
      expect(webhook.location).toBe(driver.location);
      const g = graph("link-wait")
        .node("review", ({ waitFor }) => waitFor<string>("approval"))
        .build();
      const handle = run(g, undefined, { store: driver, runId: "w" });
      await nextEvent(handle, "node:wait");
      // Before, the link's store was another location: it found the lease held by this process and no run driven
      // there, asked the other threads, and after 5 s without an answer gave RunLockedError.
      await resolveWait("w", "approval", "yes", { store: webhook });
      await expect(handle.result()).resolves.toEqual({ review: "yes" });
    } finally {
      await Promise.all([driver.close(), webhook.close()]);
    }
  });
});
