/**
 * A run deleted under a holder that is still alive: `delete` needs the
 * lease expired or given back (or its holder provably dead), so a live
 * holder whose lease expired can find its run gone. Its next writes must
 * be refused, as the run's data is gone: an append that went through would
 * be lost without an error, a compaction would bring the deleted run back.
 * A run folder refuses them once its `lease.json` is gone; a run file's
 * writer, which fences its writes by the claim file, finds on its next
 * look (never trusted past expiry, `lease-trust.ts`) that the file it has
 * open no longer has a name (`RunFileWriter.removed`).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LeaseLostError, RunLockedError } from "../src/index.js";
import { LowdbStore } from "../src/persistence/lowdb-store.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";
import { leaseRequest } from "./support/lease-request.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskloom-delete-fence-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each(["files", "folders"] as const)("a run deleted while its holder lives on (run kept as %s)", (layout) => {
  const store = () => new LowdbStore({ dir, layout });
  const kept = (runId: string) => existsSync(layout === "files" ? join(dir, `${runId}.run`) : join(dir, "runs", runId));

  /** A store holding run r1 under a lease that expired a second ago, with a snapshot and one append made. */
  async function expiredHolder() {
    const holder = store();
    const lease = await holder.acquireLease("r1", leaseRequest("holder", { now: Date.now() - 2_000, ttlMs: 1_000 }));
    await holder.writeSnapshot(sampleRun("r1"), 0, lease);
    await holder.append("r1", [nodeRecord(1, "a")], lease);
    expect(kept("r1")).toBe(true);
    return { holder, lease };
  }

  it("refuses the holder's next append, snapshot and renewal, and the run stays deleted", async () => {
    const { holder, lease } = await expiredHolder();
    const other = store();
    expect(await other.delete("r1")).toBe(true);
    expect(kept("r1")).toBe(false);

    await expect(holder.append("r1", [nodeRecord(2, "a")], lease)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(holder.append("r1", [nodeRecord(2, "a")], lease)).rejects.toMatchObject({ code: "LEASE_LOST", heldToken: lease.token });
    await expect(holder.writeSnapshot(sampleRun("r1"), 2, lease)).rejects.toBeInstanceOf(LeaseLostError);
    await expect(holder.renewLease(lease, 60_000, Date.now())).rejects.toBeInstanceOf(RunLockedError);

    expect(kept("r1")).toBe(false);
    expect(await other.load("r1")).toBeUndefined();
    expect(await other.list()).toEqual([]);
    await holder.close();
    await other.close();
  });

  it("lets anyone start the run id again, the deleted holder's owner too, as a new run", async () => {
    const { holder } = await expiredHolder();
    const other = store();
    expect(await other.delete("r1")).toBe(true);
    const again = await holder.acquireLease("r1", leaseRequest("holder"));
    await holder.writeSnapshot(sampleRun("r1", { now: 7 }), 0, again);
    const loaded = await other.load("r1");
    expect(loaded?.seq).toBe(0);
    expect(loaded?.journalRecords ?? 0).toBe(0);
    await holder.close();
    await other.close();
  });
});
