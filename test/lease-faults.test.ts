/**
 * Store faults around leases and the run folder: a full disk (ENOSPC), a
 * read-only file system (EROFS), a store path whose parent is a file
 * (ENOTDIR, which stops root too). `runAsync` and `resolveWait` reject
 * with `PersistenceError` carrying the store's error as its cause (never
 * a raw Error); a renewal refused because another driver took the run is
 * `LeaseLostError`; a lease that cannot be given back does not fail a run
 * that was saved (a `LEASE_RELEASE_FAILED` warning). The CLI prints
 * `error[PERSISTENCE_FAILED]`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  GraphHasPendingWaits,
  graph,
  LeaseLostError,
  LowdbStore,
  ManualClock,
  MemoryStore,
  PersistenceError,
  resolveWait,
  run,
  runAsync,
  type RunEventMap,
} from "../src/index.js";
import type { Lease, LeaseRequest } from "../src/persistence/run-store.js";
import type { RunState } from "../src/state/run-state.js";
import { deferred, until } from "./support/async.js";
import { runCli } from "./support/cli-process.js";

const root = mkdtempSync(join(tmpdir(), "taskloom-lease-faults-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A system error as Node.js makes them. */
function systemError(code: "ENOSPC" | "EROFS", syscall: string): NodeJS.ErrnoException {
  const message = code === "ENOSPC" ? "no space left on device" : "read-only file system";
  return Object.assign(new Error(`${code}: ${message}, ${syscall} '/var/lib/taskloom/runs/r/lease.json'`), { code, errno: -28, syscall });
}

type Faulty = "acquireLease" | "renewLease" | "releaseLease" | "writeSnapshot";

/** A MemoryStore whose chosen calls fail with a system error. */
class FaultyStore extends MemoryStore {
  readonly faults: Partial<Record<Faulty, NodeJS.ErrnoException>> = {};

  override async acquireLease(runId: string, request: LeaseRequest): Promise<Lease> {
    if (this.faults.acquireLease) throw this.faults.acquireLease;
    return super.acquireLease(runId, request);
  }

  override async renewLease(lease: Lease, ttlMs: number, now: number): Promise<Lease> {
    if (this.faults.renewLease) throw this.faults.renewLease;
    return super.renewLease(lease, ttlMs, now);
  }

  override async releaseLease(lease: Lease): Promise<void> {
    if (this.faults.releaseLease) throw this.faults.releaseLease;
    return super.releaseLease(lease);
  }

  override async writeSnapshot(state: RunState, seq: number, lease?: Lease): Promise<void> {
    if (this.faults.writeSnapshot) throw this.faults.writeSnapshot;
    return super.writeSnapshot(state, seq, lease);
  }
}

function expectPersistenceError(error: unknown, code: string): void {
  expect(error).toBeInstanceOf(PersistenceError);
  expect(error).toMatchObject({ code: "PERSISTENCE_FAILED", cause: { code } });
  // It says what to do next.
  expect((error as Error).message).toMatch(/free disk space or fix the folder's permissions/i);
}

describe("taking a run's lease fails in the store", () => {
  it("a store folder that cannot be made (its parent is a file): runAsync rejects with PersistenceError, nothing runs", async () => {
    const file = join(root, "a-file");
    writeFileSync(file, "not a folder");
    const ran: string[] = [];
    const g = graph("g")
      .node("a", () => void ran.push("a"))
      .build();
    const error = await runAsync(g, undefined, { runId: "r1", store: new LowdbStore({ dir: join(file, "store") }) }).catch((e: unknown) => e);
    // The cause is the store's own typed error, naming the folder and why; the system's ENOTDIR is its cause.
    expectPersistenceError(error, "STORE_FOLDER_UNUSABLE");
    expect((error as Error).cause).toMatchObject({ dir: join(file, "store"), cause: { code: "ENOTDIR" } });
    expect(ran).toEqual([]);
  });

  it.each(["ENOSPC", "EROFS"] as const)("%s from acquireLease: runAsync rejects with PersistenceError with the cause", async (code) => {
    const store = new FaultyStore();
    store.faults.acquireLease = systemError(code, "mkdir");
    const ran: string[] = [];
    const g = graph("g")
      .node("a", () => void ran.push("a"))
      .build();
    expectPersistenceError(await runAsync(g, undefined, { runId: "r1", store }).catch((e: unknown) => e), code);
    expect(ran).toEqual([]);
  });
});

describe("renewing and releasing the lease", () => {
  const holding = (started: () => void) =>
    graph("held")
      .node(
        "a",
        ({ signal }) =>
          new Promise<string>((_resolve, reject) => {
            started();
            signal.addEventListener("abort", () => reject(signal.reason));
          }),
      )
      .build();

  it("a renewal that fails with EROFS fails the run with PersistenceError (not a raw Error)", async () => {
    const store = new FaultyStore();
    const clock = new ManualClock(1_000_000);
    const started = deferred();
    const handle = run(
      holding(() => started.resolve()),
      undefined,
      { runId: "r1", store, clock, leaseTtlMs: 300 },
    );
    await started.promise;
    store.faults.renewLease = systemError("EROFS", "rename");
    await clock.advance(100);
    expectPersistenceError(await handle.result().catch((e: unknown) => e), "EROFS");
  });

  it("a renewal refused because another driver took the run over fails the run with LeaseLostError", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(1_000_000);
    const started = deferred();
    const handle = run(
      holding(() => started.resolve()),
      undefined,
      { runId: "r1", store, clock, leaseTtlMs: 300 },
    );
    await started.promise;
    const thief = await store.acquireLease("r1", { owner: "thief", pid: 1, host: `elsewhere-${hostname()}`, ttlMs: 60_000, now: clock.now(), takeover: true });
    await clock.advance(100);
    const error = await handle.result().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseLostError);
    expect(error).toMatchObject({ code: "LEASE_LOST", runId: "r1", heldToken: 1, currentToken: thief.token });
  });

  it("a release that fails does not fail a saved run: it succeeds, with a LEASE_RELEASE_FAILED warning", async () => {
    const store = new FaultyStore();
    store.faults.releaseLease = systemError("ENOSPC", "unlink");
    const warnings: RunEventMap["warning"][] = [];
    const handle = run(
      graph("g")
        .node("a", () => 1)
        .build(),
      undefined,
      { runId: "r1", store },
    );
    handle.events.on("warning", (w) => warnings.push(w));
    await expect(handle.result()).resolves.toEqual({ a: 1 });
    await until(() => warnings.length > 0, "the warning");
    expect(warnings[0]).toMatchObject({ runId: "r1", code: "LEASE_RELEASE_FAILED" });
    expect(warnings[0]?.message).toMatch(/ENOSPC/);
  });
});

describe("resolveWait on a store that fails", () => {
  async function waitingRun(store: FaultyStore): Promise<void> {
    const g = graph("w")
      .node("review", async ({ waitFor }) => waitFor<string>("ok"))
      .build();
    await expect(runAsync(g, undefined, { runId: "w1", store })).rejects.toBeInstanceOf(GraphHasPendingWaits);
  }

  it.each(["ENOSPC", "EROFS"] as const)("%s while taking the lease: PersistenceError with the cause", async (code) => {
    const store = new FaultyStore();
    await waitingRun(store);
    store.faults.acquireLease = systemError(code, "mkdir");
    expectPersistenceError(await resolveWait("w1", "ok", "yes", { store }).catch((e: unknown) => e), code);
  });

  it("EROFS while writing the event: PersistenceError, and the lease is given back", async () => {
    const store = new FaultyStore();
    await waitingRun(store);
    store.faults.writeSnapshot = systemError("EROFS", "open");
    expectPersistenceError(await resolveWait("w1", "ok", "yes", { store }).catch((e: unknown) => e), "EROFS");
    delete store.faults.writeSnapshot;
    await expect(resolveWait("w1", "ok", "yes", { store })).resolves.toBeUndefined();
  });
});

describe("the CLI", () => {
  it("prints error[PERSISTENCE_FAILED] (one line, no stack) when the store folder cannot be made", async () => {
    const file = join(root, "cli-file");
    writeFileSync(file, "not a folder");
    const r = await runCli(join(file, "store"), ["run", "test/fixtures/cli/ok.mjs"]);
    expect(r.code, r.stderr).toBe(1);
    // The run's header line comes first; then one error line.
    const lines = r.stderr
      .trimEnd()
      .split("\n")
      .filter((l) => l.startsWith("error"));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^error\[PERSISTENCE_FAILED\]: .*cannot be used: a path above it is a file.*Free disk space or fix the folder's permissions/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
