/**
 * `taskloom gc` and a resume that races it. gc lists the runs, then deletes
 * those that qualify one by one; a run resumed (in another process) and
 * ended between the listing and its delete used to be deleted with its
 * fresh result, since it left no lease behind for `delete` to refuse. Now
 * each run is read again under its lease and deleted with that lease
 * (`deleteRunIf`, `RunStore.delete`'s lease). The race is driven step by
 * step: the resume runs inside the store's `list` (after the listing was
 * read, before gc deletes anything) or inside `deleteRunIf`'s load.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CommandContext } from "../src/cli/context.js";
import { gcCommand } from "../src/cli/commands/gc.js";
import { getRun, graph, listRuns, LowdbStore, ManualClock, MemoryStore, run, runAsync, RunLockedError } from "../src/index.js";
import type { Lease, LoadHint, RunQuery, StoredRun } from "../src/persistence/run-store.js";
import { DELETE_IF_LEASE_TTL_MS, deleteRunIf } from "../src/runner/delete-run-if.js";
import type { RunSummary } from "../src/state/records.js";
import { nodeRecord, sampleRun } from "./store-conformance.js";

const DAY = 86_400_000;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "taskloom-gc-race-"));
  dirs.push(d);
  return d;
}

/** A graph whose node fails until `flaky.ok` is set: a run of it fails, and its resume succeeds. */
function flakyGraph() {
  const flaky = { ok: false };
  const g = graph("flaky")
    .node(
      "a",
      () => {
        if (!flaky.ok) throw new Error("not yet");
        return "fresh";
      },
      { retry: { maxAttempts: 1 } },
    )
    .build();
  return { flaky, g };
}

/** Two runs that failed 40 days ago (`old-1`, `old-2`) in the store folder `dir`. */
async function oldFailedRuns(dir: string, g: ReturnType<typeof flakyGraph>["g"]): Promise<void> {
  const store = new LowdbStore({ dir });
  try {
    for (const runId of ["old-1", "old-2"]) {
      await runAsync(g, undefined, { runId, store, clock: new ManualClock(Date.now() - 40 * DAY) }).catch(() => undefined);
    }
  } finally {
    await store.close();
  }
}

/** gc over `store` with its streams captured; `--json`. */
async function gc(dir: string, store: LowdbStore, args: { olderThan: string; status?: string }) {
  const written = { out: "", err: "" };
  const io = {
    out: { write: (s: string) => (written.out += s) },
    err: { write: (s: string) => (written.err += s) },
    cwd: tmpdir(),
    env: { ...process.env, TASKLOOM_DIR: dir },
    now: Date.now,
  };
  const ctx = new CommandContext(io, {});
  ctx.store = () => store;
  const code = await gcCommand(ctx, { ...args, json: true });
  const result = JSON.parse(written.out) as { removed: string[]; kept: { runId: string; reason: string }[] };
  return { code, result, err: written.err };
}

/** A `LowdbStore` that runs `between` once, after its listing was read and before it is returned (gc's race window). */
function listingThen(dir: string, between: () => Promise<void>): LowdbStore {
  let done = false;
  class AfterListing extends LowdbStore {
    override async list(query?: RunQuery): Promise<RunSummary[]> {
      const listed = await super.list(query);
      if (!done) {
        done = true;
        await between();
      }
      return listed;
    }
  }
  return new AfterListing({ dir });
}

describe("taskloom gc and a resume between its listing and its delete", () => {
  it("keeps a run resumed and ended after the listing, with its fresh result, and collects the others", async () => {
    const dir = tempDir();
    const { flaky, g } = flakyGraph();
    await oldFailedRuns(dir, g);
    // The resume: another store object, as another process would have; it starts and ends within gc's window.
    const store = listingThen(dir, async () => {
      flaky.ok = true;
      const other = new LowdbStore({ dir });
      await expect(runAsync(g, undefined, { runId: "old-2", store: other })).resolves.toEqual({ a: "fresh" });
      await other.close();
    });
    try {
      const { code, result, err } = await gc(dir, store, { olderThan: "30d" });
      expect(code, err).toBe(0);
      expect(result.removed).toEqual(["old-1"]);
      expect(result.kept.map((k) => k.runId)).toEqual(["old-2"]);
      expect(result.kept[0]?.reason).toMatch(/^it changed since it was listed \(succeeded, updated /);
      expect(err).toContain("kept old-2: it changed since it was listed");
      const fresh = await getRun("old-2", { store });
      expect(fresh).toMatchObject({ status: "succeeded", outputs: { a: "fresh" } });
      expect((await listRuns({ store })).map((r) => r.runId)).toEqual(["old-2"]);
      // gc gave the run back: it can be resumed (read, leased) at once.
      expect(await store.readLease("old-2")).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("keeps a run resumed after the listing whose status --status no longer names, even when it is still old", async () => {
    const dir = tempDir();
    const { flaky, g } = flakyGraph();
    await oldFailedRuns(dir, g);
    // Resumed with a clock as old as its first run: only its status says it changed.
    const store = listingThen(dir, async () => {
      flaky.ok = true;
      const other = new LowdbStore({ dir });
      await runAsync(g, undefined, { runId: "old-1", store: other, clock: new ManualClock(Date.now() - 35 * DAY) });
      await other.close();
    });
    try {
      const { code, result } = await gc(dir, store, { olderThan: "30d", status: "failed" });
      expect(code).toBe(0);
      expect(result.removed).toEqual(["old-2"]);
      expect(result.kept.map((k) => k.runId)).toEqual(["old-1"]);
      expect(result.kept[0]?.reason).toContain("it changed since it was listed (succeeded");
      expect((await getRun("old-1", { store })).status).toBe("succeeded");
    } finally {
      await store.close();
    }
  });

  it("keeps a run resumed after the listing and still running, as a live process's, and the resume ends unharmed", async () => {
    const dir = tempDir();
    let release!: () => void;
    const gate = new Promise<void>((done) => (release = done));
    let started!: () => void;
    const running = new Promise<void>((done) => (started = done));
    let tries = 0;
    const g = graph("slow-resume")
      .node(
        "a",
        async () => {
          if (++tries === 1) throw new Error("not yet");
          started();
          await gate;
          return "late";
        },
        { retry: { maxAttempts: 1 } },
      )
      .build();
    const first = new LowdbStore({ dir });
    await runAsync(g, undefined, { runId: "busy", store: first, clock: new ManualClock(Date.now() - 40 * DAY) }).catch(() => undefined);
    await first.close();
    const other = new LowdbStore({ dir });
    let handle: ReturnType<typeof run> | undefined;
    const store = listingThen(dir, async () => {
      handle = run(g, undefined, { runId: "busy", store: other });
      await running;
    });
    try {
      const { code, result } = await gc(dir, store, { olderThan: "30d" });
      expect(code).toBe(0);
      expect(result).toEqual({ dryRun: false, removed: [], kept: [{ runId: "busy", reason: "a live process drives it" }] });
      release();
      await expect(handle!.result()).resolves.toEqual({ a: "late" });
      expect((await getRun("busy", { store })).status).toBe("succeeded");
    } finally {
      release();
      await other.close();
      await store.close();
    }
  });

  it("keeps every run, exit 1, on a store whose delete ignores the lease (written before RunStore.delete took one)", async () => {
    const dir = tempDir();
    const { g } = flakyGraph();
    await oldFailedRuns(dir, g);
    let deletes = 0;
    class OldStore extends LowdbStore {
      // As a store written against the old contract: one parameter, the lease never looked at.
      override async delete(runId: string): Promise<boolean> {
        deletes++;
        return super.delete(runId);
      }
    }
    const store = new OldStore({ dir });
    try {
      const { code, result, err } = await gc(dir, store, { olderThan: "30d" });
      expect(code).toBe(1);
      expect(result.removed).toEqual([]);
      expect(result.kept.map((k) => k.runId).sort()).toEqual(["old-1", "old-2"]);
      expect(result.kept[0]!.reason).toContain("its store cannot delete a run under a lease");
      expect(err).toContain("removed 0 of 2 runs");
      expect(deletes).toBe(2);
      expect((await listRuns({ store })).map((r) => r.runId).sort()).toEqual(["old-1", "old-2"]);
      // Each lease was given back: the runs are free.
      expect(await store.readLease("old-1")).toBeUndefined();
      expect(await store.readLease("old-2")).toBeUndefined();
    } finally {
      await store.close();
    }
  });
});

describe("deleteRunIf: the decision and the delete under one lease", () => {
  const request = (owner: string, now: number) => ({ owner, pid: process.pid, host: hostname(), ttlMs: 60_000, now });

  /**
   * A `MemoryStore` that runs `during` once, inside the first `load` from
   * when `armed.now` is true (from the start unless `armed` is given): the
   * load of `deleteRunIf`, which holds the lease then.
   */
  function loadingThen(during: (store: MemoryStore) => Promise<void>, options: { ignoresDeleteLease?: boolean; armed?: { now: boolean } } = {}): MemoryStore {
    let done = false;
    const armed = options.armed ?? { now: true };
    class Hooked extends MemoryStore {
      override async load(runId: string, hint?: LoadHint): Promise<StoredRun | undefined> {
        if (!done && armed.now) {
          done = true;
          await during(this);
        }
        return super.load(runId, hint);
      }

      override async delete(runId: string, lease?: Lease): Promise<boolean> {
        return options.ignoresDeleteLease === true ? super.delete(runId) : super.delete(runId, lease);
      }
    }
    return new Hooked();
  }

  it("deletes a run that still qualifies, lease and all; keeps one that does not, its lease given back", async () => {
    const store = new MemoryStore();
    await store.writeSnapshot(sampleRun("r1", { status: "failed" }), 0);
    await store.writeSnapshot(sampleRun("r2", { status: "succeeded" }), 0);
    const failed = (meta: { status: string }) => meta.status === "failed";
    await expect(deleteRunIf("r1", failed, { store, by: "gc" })).resolves.toMatchObject({ outcome: "deleted", meta: { runId: "r1" } });
    await expect(deleteRunIf("r2", failed, { store, by: "gc" })).resolves.toMatchObject({ outcome: "kept", meta: { status: "succeeded" } });
    await expect(deleteRunIf("r3", failed, { store, by: "gc" })).resolves.toEqual({ outcome: "gone" });
    expect((await store.list()).map((s) => s.runId)).toEqual(["r2"]);
    expect(await store.readLease("r1")).toBeUndefined();
    expect(await store.readLease("r2")).toBeUndefined();
    expect(await store.readLease("r3")).toBeUndefined();
  });

  it("holds the run while it decides: a driver that comes meanwhile is refused, and the decision is made on what it read", async () => {
    let refused: unknown;
    const store = loadingThen(async (s) => {
      refused = await s.acquireLease("r1", request("driver", Date.now())).catch((e: unknown) => e);
    });
    await store.writeSnapshot(sampleRun("r1", { status: "failed" }), 0);
    await expect(deleteRunIf("r1", () => true, { store, by: "gc" })).resolves.toMatchObject({ outcome: "deleted" });
    expect(refused).toBeInstanceOf(RunLockedError);
    expect((refused as RunLockedError).holder.owner).toMatch(/^deliver:gc:/);
  });

  it("makes a resume that starts meanwhile wait for its lease, not fail: it runs once the run is kept", async () => {
    const { flaky, g } = flakyGraph();
    let resumed: Promise<unknown> | undefined;
    const armed = { now: false };
    const store = loadingThen(
      async (s) => {
        flaky.ok = true;
        resumed = runAsync(g, undefined, { runId: "r1", store: s });
      },
      { armed },
    );
    await runAsync(g, undefined, { runId: "r1", store }).catch(() => undefined);
    expect((await store.load("r1"))?.state.meta.status).toBe("failed");
    armed.now = true;
    await expect(deleteRunIf("r1", () => false, { store, by: "gc" })).resolves.toMatchObject({ outcome: "kept" });
    await expect(resumed).resolves.toEqual({ a: "fresh" });
  });

  it("keeps a run whose lease another driver took over between the read and the delete (the store refuses the stale lease)", async () => {
    const store = loadingThen(async (s) => {
      // Taken by force (its clock past the lease), written and given back: a resume that ended meanwhile.
      const taker = await s.acquireLease("r1", { ...request("resume", Date.now() + 2 * DELETE_IF_LEASE_TTL_MS), takeover: true });
      await s.append("r1", [nodeRecord(1, "b", { status: "succeeded", output: "B" })], taker);
      await s.releaseLease(taker);
    });
    await store.writeSnapshot(sampleRun("r1", { status: "failed" }), 0);
    await expect(deleteRunIf("r1", () => true, { store, by: "gc" })).rejects.toBeInstanceOf(RunLockedError);
    expect((await store.load("r1"))?.seq).toBe(1);
  });

  it("renews a lease held for half its time before the delete, so a store that ignores the lease never deletes a run taken meanwhile", async () => {
    let clock = 1_000_000;
    const store = loadingThen(
      async (s) => {
        // A long load: gc's lease expires, a resume takes the run over, ends and gives it back.
        clock += DELETE_IF_LEASE_TTL_MS + 1;
        const taker = await s.acquireLease("r1", request("resume", clock));
        await s.append("r1", [nodeRecord(1, "b", { status: "succeeded", output: "B" })], taker);
        await s.releaseLease(taker);
      },
      { ignoresDeleteLease: true },
    );
    await store.writeSnapshot(sampleRun("r1", { status: "failed" }), 0);
    await expect(deleteRunIf("r1", () => true, { store, by: "gc", now: () => clock })).rejects.toBeInstanceOf(RunLockedError);
    expect((await store.load("r1"))?.seq).toBe(1);
  });

  it("says unsupported, and keeps the run, when the store's delete refuses the very lease it holds", async () => {
    const store = loadingThen(async () => undefined, { ignoresDeleteLease: true });
    await store.writeSnapshot(sampleRun("r1", { status: "failed" }), 0);
    await expect(deleteRunIf("r1", () => true, { store, by: "gc" })).resolves.toMatchObject({ outcome: "unsupported", meta: { runId: "r1" } });
    expect((await store.load("r1"))?.seq).toBe(0);
    expect(await store.readLease("r1")).toBeUndefined();
  });
});
